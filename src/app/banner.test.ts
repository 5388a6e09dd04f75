// The banner (src/app/banner.ts) and README.md "Five minutes with Switchyard" give the same steps.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../core/config.js';
import { banner, FIRST_STEPS, LISTEN_STEP, SIMULATE_STEP } from './banner.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const gateway = { url: 'http://127.0.0.1:3999', adminToken: 'adm_banner_test_token', adminApi: true, embedded: true };

describe('banner', () => {
  it("prints README's five-minute steps verbatim, after this gateway's URL and admin token", () => {
    const five = readme.slice(readme.indexOf('## Five minutes with Switchyard'), readme.indexOf('## Configuration'));
    for (const step of [FIRST_STEPS, LISTEN_STEP, SIMULATE_STEP]) expect(five).toContain(step);

    const text = banner('all', gateway, loadConfig({ SWITCHYARD_ALLOW_PRIVATE_URLS: 'true' }));
    const indented = (block: string) => block.replace(/^(?=.)/gm, '  ');
    expect(text).toContain('Switchyard is running at http://127.0.0.1:3999\n');
    expect(text).toContain(indented(`B=http://127.0.0.1:3999\nexport ADMIN=adm_banner_test_token\n\n${FIRST_STEPS}`));
    expect(text).toContain(indented(LISTEN_STEP));
    expect(text).toContain(indented(SIMULATE_STEP));
    expect(text).toContain('kept in ./.switchyard/admin-token');
    expect(text).not.toContain('SWITCHYARD_ALLOW_PRIVATE_URLS');
  });

  it('says that step 3 needs SWITCHYARD_ALLOW_PRIVATE_URLS when it is off', () => {
    expect(banner('all', gateway, loadConfig({}))).toContain('Step 3 needs SWITCHYARD_ALLOW_PRIVATE_URLS=true');
  });

  it('in production prints no token: where it is kept, or that the admin API is off', () => {
    const on = banner('serve', gateway, loadConfig({ NODE_ENV: 'production', SWITCHYARD_ADMIN_TOKEN: 'adm_banner_test_token' }));
    expect(on).toContain('admin token: in SWITCHYARD_ADMIN_TOKEN (not printed in production)');
    const off = banner('serve', { ...gateway, adminApi: false }, loadConfig({ NODE_ENV: 'production' }));
    expect(off).toContain('admin API:   off');
    for (const text of [on, off]) {
      expect(text).not.toContain('adm_banner_test_token');
      expect(text).not.toContain('curl');
    }
  });
});

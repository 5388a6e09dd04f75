import { inject, describe, expect, it } from 'vitest';
import { createSql } from '../../src/core/db/client.js';
import { migrate, pendingMigrations } from '../../src/app/db/migrate.js';
import { loadConfig } from '../../src/core/config.js';
import { prepare } from '../../src/app/gateway.js';
import { withDatabase } from '../global-setup.js';
import { quietLogger } from '../app.js';

async function emptyDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const adminUrl = inject('adminUrl');
  const name = `sy_t_${process.ppid}_${process.pid}_mig_${Date.now().toString(36)}`;
  const admin = createSql(adminUrl, { max: 1 });
  await admin.unsafe(`create database ${name}`);
  await admin.end();
  return {
    url: withDatabase(adminUrl, name),
    async drop() {
      const a = createSql(adminUrl, { max: 1 });
      await a.unsafe(`drop database if exists ${name} with (force)`);
      await a.end();
    },
  };
}

describe('migrations', () => {
  it('apply every sql/ file to an empty database, and a second run applies nothing', async () => {
    const db = await emptyDatabase();
    const sql = createSql(db.url, { max: 2 });
    try {
      expect((await pendingMigrations(sql)).length).toBeGreaterThan(0);
      const first = await migrate(sql, db.url);
      expect(first[0]).toBe('0001_init.sql');
      expect(await pendingMigrations(sql)).toEqual([]);
      expect(await migrate(sql, db.url)).toEqual([]);
      const [jobs] = await sql<{ ok: boolean }[]>`select to_regproc('graphile_worker.add_job') is not null as ok`;
      expect(jobs?.ok).toBe(true);
    } finally {
      await sql.end();
      await db.drop();
    }
  });

  it('apply each file once when two processes migrate at the same time', async () => {
    const db = await emptyDatabase();
    const a = createSql(db.url, { max: 2 });
    const b = createSql(db.url, { max: 2 });
    try {
      const [ra, rb] = await Promise.all([migrate(a, db.url), migrate(b, db.url)]);
      const all = [...ra, ...rb].sort();
      expect(new Set(all).size).toBe(all.length);
      const [n] = await a<{ n: number }[]>`select count(*)::int as n from gw.migrations`;
      expect(n?.n).toBe(all.length);
    } finally {
      await a.end();
      await b.end();
      await db.drop();
    }
  });
});

describe('start-up checks', () => {
  it('refuses to start in production without SWITCHYARD_MASTER_KEY, before touching any database', async () => {
    const config = loadConfig({ NODE_ENV: 'production', DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' });
    await expect(prepare(config, quietLogger as never)).rejects.toThrow(/SWITCHYARD_MASTER_KEY is required in production/);
  });

  it('refuses to start in production without DATABASE_URL rather than run an embedded database', async () => {
    const config = loadConfig({ NODE_ENV: 'production', SWITCHYARD_MASTER_KEY: Buffer.alloc(32, 1).toString('base64') });
    await expect(prepare(config, quietLogger as never)).rejects.toThrow(/DATABASE_URL is required in production/);
  });

  it('names every invalid variable when the configuration does not parse', () => {
    expect(() => loadConfig({ PORT: 'eighty', SWITCHYARD_ALLOW_PRIVATE_URLS: 'maybe' })).toThrow(
      /PORT[\s\S]*SWITCHYARD_ALLOW_PRIVATE_URLS|SWITCHYARD_ALLOW_PRIVATE_URLS[\s\S]*PORT/,
    );
  });
});

import { describe, expect, it } from 'vitest';
import { progressLine } from './progress.js';

describe('progressLine', () => {
  it('fills the bar in proportion to done / total and names the counts', () => {
    expect(progressLine({ done: 0, total: 500, queued: 0, skipped: 0 }, 10)).toBe('[..........]   0/500 messages (0 queued, 0 skipped)');
    expect(progressLine({ done: 250, total: 500, queued: 240, skipped: 10 }, 10)).toBe(
      '[#####.....] 250/500 messages (240 queued, 10 skipped)',
    );
    expect(progressLine({ done: 500, total: 500, queued: 500, skipped: 0 }, 10)).toBe(
      '[##########] 500/500 messages (500 queued, 0 skipped)',
    );
  });

  it('shows a full bar for an empty replay and never overfills when messages were added meanwhile', () => {
    expect(progressLine({ done: 0, total: 0, queued: 0, skipped: 0 }, 4)).toBe('[####] 0/0 messages (0 queued, 0 skipped)');
    expect(progressLine({ done: 7, total: 5, queued: 7, skipped: 0 }, 4)).toMatch(/^\[####\]/);
  });
});

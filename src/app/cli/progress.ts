// A replay's progress as one terminal line (`switchyard replay`).

const BAR_WIDTH = 30;

/** One line of progress: `[#####.....]  250/500 messages (250 queued, 0 skipped)`. */
export function progressLine(r: { done: number; total: number; queued: number; skipped: number }, width = BAR_WIDTH): string {
  const ratio = r.total === 0 ? 1 : Math.min(1, r.done / r.total);
  const filled = Math.round(ratio * width);
  const count = `${r.done}/${r.total}`.padStart(String(r.total).length * 2 + 1);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${count} messages (${r.queued} queued, ${r.skipped} skipped)`;
}

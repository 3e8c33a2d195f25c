'use strict';
// Formatting shared by the benchmarks: tables of medians, and targets that
// say pass or MISS from numbers measured in the same run.

function formatNs(ns) {
  if (ns >= 1e6) return `${(ns / 1e6).toFixed(2)} ms`;
  if (ns >= 1e4) return `${(ns / 1e3).toFixed(1)} µs`;
  return `${Math.round(ns)} ns`;
}

function formatRatio(ratio) {
  return `${ratio.toFixed(ratio >= 10 ? 1 : 3)} ×`;
}

/** A markdown table; `rows` are arrays of cells. */
function table(header, rows) {
  const line = (cells) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/** Medians of an interleave() result as table rows. */
function medianRows(results) {
  return results.map((r) => [r.name, formatNs(r.median), String(r.perRound.length), String(r.calls)]);
}

const MEDIAN_HEADER = ['contender', 'median per call', 'rounds', 'calls per round'];

/**
 * A target checked against a measured value.
 * @param {string} what
 * @param {number} value
 * @param {'<=' | '>='} relation
 * @param {number} limit
 * @param {(n: number) => string} format
 */
function target(what, value, relation, limit, format) {
  const pass = relation === '<=' ? value <= limit : value >= limit;
  return { what, shown: format(value), wanted: `${relation} ${format(limit)}`, pass };
}

function targetRows(targets) {
  return targets.map((t) => [t.what, t.shown, t.wanted, t.pass ? 'met' : '**MISSED**']);
}

const TARGET_HEADER = ['target', 'measured', 'wanted', 'result'];

module.exports = { formatNs, formatRatio, table, medianRows, MEDIAN_HEADER, target, targetRows, TARGET_HEADER };

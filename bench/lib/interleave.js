'use strict';
// Runs contenders A B C A B C … (the order rotates each round so no one always
// goes first), each for a calibrated number of calls, and keeps one time per
// call per round. Medians and per-round ratios come from the same rounds, so a
// burst of machine noise hits every contender of that round alike.

/**
 * `calls`, when given, fixes the calls per round (no calibration): for
 * contenders that need fresh sockets made before each round.
 * @typedef {{ name: string, run: (calls: number) => Promise<number> | number, minCalls?: number, calls?: number }} Contender
 */

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** Calls such that one round of this contender takes about `roundMs`. */
async function calibrate(contender, roundMs) {
  if (contender.calls !== undefined) return contender.calls;
  let calls = contender.minCalls ?? 100;
  for (;;) {
    const nsPerCall = await contender.run(calls);
    const roundNs = nsPerCall * calls;
    if (roundNs >= (roundMs * 1e6) / 4 || calls >= 1e7) {
      return Math.max(contender.minCalls ?? 1, Math.round((roundMs * 1e6) / nsPerCall));
    }
    calls *= 4;
  }
}

/**
 * @param {Contender[]} contenders
 * @param {{ rounds: number, warmupRounds: number, roundMs: number }} plan
 * @returns {Promise<{ name: string, calls: number, perRound: number[], median: number }[]>}
 */
async function interleave(contenders, { rounds, warmupRounds, roundMs }) {
  const calls = [];
  for (const contender of contenders) calls.push(await calibrate(contender, roundMs));
  const perRound = contenders.map(() => []);
  for (let round = 0; round < warmupRounds + rounds; round++) {
    for (let k = 0; k < contenders.length; k++) {
      const index = (round + k) % contenders.length;
      const nsPerCall = await contenders[index].run(calls[index]);
      if (round >= warmupRounds) perRound[index].push(nsPerCall);
    }
  }
  return contenders.map((contender, index) => ({
    name: contender.name,
    calls: calls[index],
    perRound: perRound[index],
    median: median(perRound[index]),
  }));
}

/** Median over rounds of a.perRound[i] / b.perRound[i]: the ratio of two contenders run side by side. */
function pairedRatio(a, b) {
  return median(a.perRound.map((value, round) => value / b.perRound[round]));
}

module.exports = { interleave, median, pairedRatio };

'use strict';
// One fork of benchmark 1 (bench/benchmarks/per-call.js runs several, one after
// another): measures every contender interleaved in this fresh process and
// prints the raw rounds as JSON on stdout.
const { measure } = require('./benchmarks/per-call');

measure(JSON.parse(process.argv[2]))
  .then((result) => {
    process.stdout.write(JSON.stringify(result));
  })
  .catch((error) => {
    process.stderr.write(`per-call fork: ${error.stack}\n`);
    process.exitCode = 1;
  });

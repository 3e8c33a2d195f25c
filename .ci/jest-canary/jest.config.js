'use strict';
// The canary for ka_jest (.ci/lib/native.sh): one test that passes and leaves a server listening.
module.exports = { rootDir: __dirname, testEnvironment: 'node', testMatch: ['<rootDir>/*.test.js'] };

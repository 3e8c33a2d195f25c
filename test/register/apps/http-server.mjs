// The same server as an ES module (run with --import).
import http from 'node:http';

const server = http.createServer({ keepAliveTimeout: 30_000 }, (request, response) => response.end('ok'));
server.listen(0, '127.0.0.1', () => process.stdout.write(`READY ${server.address().port}\n`));
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));

#!/usr/bin/env bash
# Starts any local service the integration suite needs that is not listening
# (the commands the machine image uses), then waits for each port.
set -u
up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
start() {
  local port=$1; shift
  if up "$port"; then return 0; fi
  echo "ci: service on :$port is down, starting: $*"
  bash -c "$*" >/dev/null 2>&1 || echo "ci: start command for :$port failed"
}
start 5432 'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start'
start 6379 'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log'
start 5672 'rabbitmq-server -detached'
start 1883 'mosquitto -d -c /etc/mosquitto/mosquitto.conf'
start 4222 'start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log'
start 3306 'start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd'
for port in 5432 6379 5672 1883 4222 3306; do
  for _ in $(seq 1 60); do up "$port" && break; sleep 1; done
  up "$port" && echo "ci: :$port up" || echo "ci: :$port STILL DOWN (its integration tests will fail under CI=true)"
done

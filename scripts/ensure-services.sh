#!/usr/bin/env bash
# Makes sure the Redis and PostgreSQL the tests talk to answer, starting
# them with the machine's own commands when they do not.
set -euo pipefail

redis_up() { (exec 3<>/dev/tcp/127.0.0.1/6379 && printf 'PING\r\n' >&3 && head -c5 <&3 | grep -q PONG) 2>/dev/null; }
pg_up() { (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; }

if ! redis_up; then
  echo "ensure-services: starting redis"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
fi
if ! pg_up; then
  echo "ensure-services: starting postgresql"
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
  fi
fi
# The tests connect as postgres over TCP without a password (trust), as on
# the project's machines. A freshly installed server asks for a password:
# allow trust for loopback only, once.
pg_trust() {
  local hba
  hba=$(ls /etc/postgresql/*/main/pg_hba.conf 2>/dev/null | head -1)
  [ -n "$hba" ] && [ -w "$hba" ] || return 0
  psql -h 127.0.0.1 -U postgres -tAc 'SELECT 1' >/dev/null 2>&1 && return 0
  grep -q '^host all all 127.0.0.1/32 trust # uploader tests' "$hba" && return 0
  echo "ensure-services: allowing trust auth on 127.0.0.1 for the test user"
  sed -i '1i host all all 127.0.0.1/32 trust # uploader tests\nhost all all ::1/128 trust # uploader tests' "$hba"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main reload || true
}

for _ in $(seq 1 50); do
  if redis_up && pg_up; then
    pg_trust
    # The tests use database "test"; create it if this server lacks it.
    if command -v psql >/dev/null; then
      psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='test'" 2>/dev/null | grep -q 1 \
        || psql -h 127.0.0.1 -U postgres -c "CREATE DATABASE test" >/dev/null 2>&1 || true
    fi
    exit 0
  fi
  sleep 0.2
done
redis_up || echo "ensure-services: Redis does not answer on 127.0.0.1:6379" >&2
pg_up || echo "ensure-services: PostgreSQL does not answer on 127.0.0.1:5432" >&2
exit 1

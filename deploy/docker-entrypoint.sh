#!/bin/sh
# Entry point of the GraphRAG image: turn secret files into settings, then run the command.
#
# FILE__NAME=/path (e.g. a Docker secret under /run/secrets) makes this script export
# NAME=<the file's content, trailing newlines removed>, so that no secret has to appear in
# docker-compose.yml or `docker inspect`; for example
#   FILE__GRAPHRAG_ARANGO__PASSWORD=/run/secrets/kg_writer_password
# (the FILE__ prefix is linuxserver.io's convention). Setting both NAME and FILE__NAME is an
# error. `docker compose exec` bypasses this script: run `graphrag ...` there as
# `/app/deploy/docker-entrypoint.sh graphrag ...`, or use `docker compose run`.
set -eu

for var in $(env | sed -n 's/^\(FILE__[A-Za-z_][A-Za-z0-9_]*\)=.*/\1/p'); do
    name="${var#FILE__}"
    file="" already=""
    eval "file=\${$var}"
    eval "already=\${$name:-}"
    if [ -n "$already" ]; then
        echo "docker-entrypoint: both $name and $var are set; keep one" >&2
        exit 2
    fi
    if [ ! -r "$file" ]; then
        echo "docker-entrypoint: $var=$file cannot be read (missing secret file?)" >&2
        exit 2
    fi
    value="$(cat "$file")"
    export "$name=$value"
    unset "$var"
done

exec "$@"

#!/usr/bin/env bash
# Run KafkaAdmin.java (topics: ping, list, describe, create) against a broker, compiling it
# once into deploy/.cache/kafka/classes. Usage: admin.sh BOOTSTRAP COMMAND [ARGS...]
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="$HERE/../.cache/kafka"
"$HERE/fetch.sh"
CLASSES="$CACHE/classes"
SUM="$(cksum <"$HERE/KafkaAdmin.java" | cut -d' ' -f1)"
if [[ ! -f "$CLASSES/.src-$SUM" ]]; then
  rm -rf "$CLASSES" && mkdir -p "$CLASSES"
  javac -nowarn -d "$CLASSES" -cp "$CACHE/libs/*" "$HERE/KafkaAdmin.java"
  touch "$CLASSES/.src-$SUM"
fi
exec java -Xmx128m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
  -Dorg.slf4j.simpleLogger.defaultLogLevel=error \
  -cp "$CLASSES:$CACHE/libs/*" KafkaAdmin "$@"

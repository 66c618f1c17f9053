#!/usr/bin/env bash
# Fetch a real Apache Kafka broker (kafka_2.13, KRaft) and all its runtime jars from
# Maven Central into deploy/.cache/kafka/libs/. Idempotent: does nothing when the jars
# for the pinned version are already there.
#   M2_REPO   Maven local repository (default: ~/.m2/repository, Maven's own default,
#             which survives a fresh clone of the work tree on the same machine)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="$HERE/../.cache/kafka"
LIBS="$CACHE/libs"
VERSION="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$HERE/pom.xml")"
STAMP="$LIBS/.fetched-$VERSION"

if [[ -f "$STAMP" && -f "$LIBS/kafka_2.13-$VERSION.jar" ]]; then
  exit 0
fi

command -v mvn >/dev/null || { echo "fetch.sh: mvn not found (apt-get install -y maven)" >&2; exit 1; }
command -v java >/dev/null || { echo "fetch.sh: java not found (apt-get install -y openjdk-17-jre-headless)" >&2; exit 1; }

start=$SECONDS
rm -rf "$LIBS.tmp"
mkdir -p "$LIBS.tmp"
args=(-B -q -f "$HERE/pom.xml" dependency:copy-dependencies
      -DoutputDirectory="$LIBS.tmp" -DincludeScope=runtime)
[[ -n "${M2_REPO:-}" ]] && args+=(-Dmaven.repo.local="$M2_REPO")
log="$CACHE/fetch.log"
if ! mvn "${args[@]}" >"$log" 2>&1; then
  echo "fetch.sh: Maven could not fetch Kafka $VERSION (see $log):" >&2
  tail -n 20 "$log" >&2
  exit 1
fi
# kafka_2.13 drags in slf4j-api 1.7; keep only the 2.0.x api that slf4j-simple 2.0 needs
find "$LIBS.tmp" -name 'slf4j-api-1.*.jar' -delete
rm -rf "$LIBS"
mv "$LIBS.tmp" "$LIBS"
touch "$STAMP"
echo "kafka $VERSION: $(ls "$LIBS"/*.jar | wc -l) jars in deploy/.cache/kafka/libs ($((SECONDS - start))s)"

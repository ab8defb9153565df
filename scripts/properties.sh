#!/usr/bin/env bash
# The property and differential tests at a high case count (CI runs them at a modest one):
# every field rule over arbitrary text, the two independent readings of legacy values, and the
# whole pipeline on random small legacy databases.
#
#   scripts/properties.sh            # 20 000 cases per rule property, 500 random databases
#   CASES=100000 DATABASES=2000 scripts/properties.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cases="${CASES:-20000}"
databases="${DATABASES:-500}"
echo "properties: $cases cases per rule property, $databases random legacy databases"
PROPTEST_CASES="$cases" cargo test --release -p ykt-domain --test rules_properties
PROPTEST_CASES="$cases" cargo test --release -p ykt-reconcile --lib differential
YKT_PROPERTY_CASES="$databases" cargo test --release --test it properties::

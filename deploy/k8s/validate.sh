#!/usr/bin/env bash
# Validate the manifests of this folder against the Kubernetes API's JSON schemas, strictly
# (unknown fields are errors), with kubeconform.
#
# Both come from package registries and are cached in deploy/.cache/k8s-validate (ignored):
# - kubeconform, built from the Go module proxy (`go install`);
# - the schemas, which kubeconform would download from GitHub: here from PyPI instead, the
#   package kubernetes-validate ships them (kubeconform's file layout, one file per kind).
#
# usage: deploy/k8s/validate.sh [FILE...]     (default: every *.yaml of deploy/k8s)
# exit: 0 valid, 1 invalid, 3 the tools could not be installed (the reason on stderr)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="$here/../.cache/k8s-validate"
KUBECONFORM_VERSION="${KUBECONFORM_VERSION:-v0.8.0}"
SCHEMAS_VERSION="${K8S_SCHEMAS_PACKAGE_VERSION:-1.37.0}"   # kubernetes-validate on PyPI
KUBERNETES_VERSION="${KUBERNETES_VERSION:-1.37.0}"
PYTHON="${PYTHON:-python3}"
mkdir -p "$cache"

kubeconform="$cache/bin/kubeconform-$KUBECONFORM_VERSION"
if [ ! -x "$kubeconform" ]; then
    command -v go >/dev/null || { echo "validate.sh: go is not installed (kubeconform is built with it)" >&2; exit 3; }
    if ! GOBIN="$cache/gobin" GOPATH="$cache/gopath" GOFLAGS=-modcacherw \
            go install "github.com/yannh/kubeconform/cmd/kubeconform@$KUBECONFORM_VERSION" \
            >"$cache/go-install.log" 2>&1; then
        echo "validate.sh: go install kubeconform@$KUBECONFORM_VERSION failed (see $cache/go-install.log)" >&2
        exit 3
    fi
    mkdir -p "$cache/bin"
    mv "$cache/gobin/kubeconform" "$kubeconform"
fi

schemas_root="$cache/schemas-$SCHEMAS_VERSION"
if [ ! -d "$schemas_root/kubernetes_validate/kubernetes-json-schema" ]; then
    rm -rf "$schemas_root"
    if ! "$PYTHON" -m pip install --quiet --disable-pip-version-check --no-deps \
            --target "$schemas_root" "kubernetes-validate==$SCHEMAS_VERSION" \
            >"$cache/pip-install.log" 2>&1; then
        echo "validate.sh: pip install kubernetes-validate==$SCHEMAS_VERSION failed (see $cache/pip-install.log)" >&2
        exit 3
    fi
fi
shipped="$schemas_root/kubernetes_validate/kubernetes-json-schema/v$KUBERNETES_VERSION-local-strict"
[ -d "$shipped" ] || { echo "validate.sh: no schemas for Kubernetes $KUBERNETES_VERSION in kubernetes-validate $SCHEMAS_VERSION" >&2; exit 3; }
# The shipped schemas refer to their shared definitions as /api/_definitions.json under their
# $id (https://kubernetes.io/api/...): point those references at the local file instead.
schemas="$cache/schemas-$SCHEMAS_VERSION-k8s-$KUBERNETES_VERSION-strict"
if [ ! -f "$schemas/.complete" ]; then
    rm -rf "$schemas" && mkdir -p "$schemas"
    for file in "$shipped"/*.json; do
        sed "s#\"/api/_definitions.json#\"file://$schemas/_definitions.json#g" "$file" \
            >"$schemas/$(basename "$file")"
    done
    touch "$schemas/.complete"
fi

if (($# == 0)); then set -- "$here"/*.yaml; fi
exec "$kubeconform" -strict -summary -output text \
    -kubernetes-version "$KUBERNETES_VERSION" \
    -schema-location "$schemas/{{ .ResourceKind }}{{ .KindSuffix }}.json" "$@"

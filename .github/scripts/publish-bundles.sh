#!/usr/bin/env bash
# publish-bundles.sh STACKHUB ROOT...: lint and publish every ROOT/<app>/porter.yaml
# to $BUNDLE_REGISTRY/<app>:v<version> (the tag comes from the bundle's version).
# Credentials come from the Docker client configuration (docker login, or
# $DOCKER_CONFIG). BUNDLE_REGISTRY_INSECURE=true names its registry as one that may be plain HTTP.
# A version already published is left as it is (a warning): bump the bundle's
# version to publish a change. .github/workflows/publish-bundles.yml runs this,
# and orchestrator/ocibundle's workflow test runs it against a loopback registry.
set -euo pipefail

stackhub=$1
shift
: "${BUNDLE_REGISTRY:?set BUNDLE_REGISTRY to REGISTRY/NAMESPACE}"
flags=()
if [[ "${BUNDLE_REGISTRY_INSECURE:-}" == "true" ]]; then
  flags+=(--insecure-registry "${BUNDLE_REGISTRY%%/*}")
fi

published=0
for root in "$@"; do
  for manifest in "$root"/*/porter.yaml; do
    [[ -f "$manifest" ]] || continue
    dir=$(dirname "$manifest")
    app=$(basename "$dir")
    "$stackhub" bundle lint "$dir"
    status=0
    "$stackhub" bundle publish "$dir" --reference "$BUNDLE_REGISTRY/$app" "${flags[@]}" || status=$?
    case $status in
      0) published=$((published + 1)) ;;
      4) echo "::warning::$app: this version is already published; bump its version to publish a change" ;;
      *) exit "$status" ;;
    esac
  done
done
echo "published $published bundle(s)"

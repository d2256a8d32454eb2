#!/bin/sh
# Unpacks the official Python client (github.com/kubernetes-client/python) from a local git
# mirror into a cache dir, for test/e2e/python-client.test.ts. Nothing is downloaded and nothing
# is written into the repository.
#
#   scripts/python-client.sh [ref]
#
# BOSUN_PYTHON_CLIENT_MIRROR  the mirror: a bare or normal git clone of kubernetes-client/python
#                             (default /work/.mirror/kubernetes-client+python/repo)
# BOSUN_PYTHON_CLIENT         where to unpack (default ${XDG_CACHE_HOME:-~/.cache}/bosun/python-client),
#                             the same variable the test reads
# ref                         a tag or commit; default: the newest release tag vX.Y.Z whose
#                             kubernetes/ and examples/ trees are complete in the mirror (a partial
#                             mirror may lack large generated files such as core_v1_api.py)
# Prints the directory it unpacked to. Re-running with the same ref is a no-op.
set -eu

mirror=${BOSUN_PYTHON_CLIENT_MIRROR:-/work/.mirror/kubernetes-client+python/repo}
dest=${BOSUN_PYTHON_CLIENT:-${XDG_CACHE_HOME:-$HOME/.cache}/bosun/python-client}

if ! git -C "$mirror" rev-parse --git-dir >/dev/null 2>&1; then
  echo "no git mirror of kubernetes-client/python at $mirror" >&2
  echo "make one (git clone --bare https://github.com/kubernetes-client/python \"$mirror\")," >&2
  echo "or point BOSUN_PYTHON_CLIENT_MIRROR at a clone, or BOSUN_PYTHON_CLIENT at an unpacked checkout" >&2
  exit 1
fi

# Whether every blob of kubernetes/ and examples/ at $1 is present in the mirror.
complete() {
  git -C "$mirror" ls-tree -r "$1" -- kubernetes examples 2>/dev/null | awk '$2 == "blob" { print $3 }' |
    git -C "$mirror" cat-file --batch-check 2>/dev/null | grep -q missing && return 1
  git -C "$mirror" cat-file -e "$1:kubernetes/base/dynamic/test_client.py" 2>/dev/null
}

ref=${1:-}
if [ -z "$ref" ]; then
  for t in $(git -C "$mirror" tag --list 'v*' --sort=-v:refname | grep -E '^v[0-9]+\.[0-9]+\.[0-9]+$'); do
    if complete "$t"; then ref=$t; break; fi
  done
  if [ -z "$ref" ]; then
    echo "no release tag in $mirror has a complete kubernetes/ tree; pass a ref" >&2
    exit 1
  fi
elif ! complete "$ref"; then
  echo "$ref: kubernetes/ or examples/ is incomplete (or missing) in $mirror" >&2
  exit 1
fi
commit=$(git -C "$mirror" rev-parse "$ref^{commit}")

if [ -f "$dest/.bosun-ref" ] && [ "$(cat "$dest/.bosun-ref")" = "$ref $commit" ]; then
  echo "$dest"
  exit 0
fi

mkdir -p "$(dirname "$dest")"
tmp=$(mktemp -d "$(dirname "$dest")/.python-client.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# git reports objects missing elsewhere in the tree (a partial mirror) on stderr; only a failed
# archive matters, and complete() has checked the two trees taken.
if ! git -C "$mirror" archive -o "$tmp/client.tar" "$commit" kubernetes examples 2>"$tmp/archive.err"; then
  cat "$tmp/archive.err" >&2
  exit 1
fi
tar -x -f "$tmp/client.tar" -C "$tmp"
rm -f "$tmp/client.tar" "$tmp/archive.err"
echo "$ref $commit" > "$tmp/.bosun-ref"
rm -rf "$dest"
mv "$tmp" "$dest"
trap - EXIT
echo "$dest"

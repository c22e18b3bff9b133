# The two commands of the README:  make run  (the local stack)  and  make test.
# Both install what they need on a fresh Debian machine first.
SHELL := /bin/bash
export UV_PYTHON := python3.11
export UV_PYTHON_DOWNLOADS := never
export UV_LINK_MODE := copy
UV_VERSION := 0.13.8
VENV := .venv
# Debian packages: the browser for the UI tests, bcftools/tabix for the engine oracle
# and benchmark, wrk for the web load benchmark, etcd for the cluster tests.
DEB_PACKAGES := chromium bcftools tabix wrk etcd-server
# Images (buildah, mmdebstrap; gcc + libc6-dev compile the pause binary) and the one-node
# cluster (containerd, runc, the CNI plugins, iptables and conntrack for kube-proxy).
DEB_PACKAGES += buildah mmdebstrap gcc libc6-dev containerd runc containernetworking-plugins iptables conntrack

.PHONY: setup system-deps tools images run test bench clean

setup: $(VENV)/.synced

$(VENV)/.synced: uv.lock pyproject.toml libs/core/pyproject.toml services/*/pyproject.toml
	@command -v uv >/dev/null 2>&1 || python3 -m pip install --quiet "uv==$(UV_VERSION)"
	uv sync --all-packages --frozen
	@touch $@

system-deps:
	@missing=""; for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

# helm + the offline manifest validator (chart checks); kube-apiserver, controller-manager,
# scheduler, kwok and etcd (cluster tests). Built with Go, cached across runs.
tools:
	tools/install-helm.sh
	tools/install-controlplane.sh >/dev/null
	tools/install-skaffold-schema.sh >/dev/null

# Every image GAS runs (services/Dockerfile, moto, pause, coredns), built with buildah from
# Debian packages and PyPI only; cached by input hash in ~/.cache/gas/images (root needed).
images: tools
	python3 tools/images/build.py

run: setup
	$(VENV)/bin/python local/devstack.py

test: setup system-deps tools images
	$(VENV)/bin/pytest

bench: setup system-deps tools
	@for b in bench/*.py; do echo "== $$b"; $(VENV)/bin/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache

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

.PHONY: help setup system-deps tools images lint run demo test bench clean
.DEFAULT_GOAL := help

help: ## list the targets, one line each (what plain `make` does)
	@awk -F ':.*## ' '/^[a-z-]+:.*## / { printf "  make %-12s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

setup: $(VENV)/.synced ## the locked Python dependencies into .venv (uv sync)

# The annotator's build hook compiles its ctypes kernels (native.c) with cc: gcc and
# libc6-dev first when there is no cc. An edit to either re-syncs (uv rebuilds it).
$(VENV)/.synced: uv.lock pyproject.toml libs/core/pyproject.toml services/*/pyproject.toml \
		services/annotator/hatch_build.py services/annotator/src/gas/annotator/engine/native.c
	@command -v uv >/dev/null 2>&1 || python3 -m pip install --quiet "uv==$(UV_VERSION)"
	@command -v cc >/dev/null 2>&1 || tools/apt-install.sh gcc libc6-dev
	uv sync --all-packages --frozen
	@touch $@

system-deps: ## the Debian packages the tests and benchmarks use (chromium, bcftools, tabix, wrk, etcd)
	@tools/apt-install.sh $(DEB_PACKAGES) $$(command -v npm >/dev/null 2>&1 || echo npm)

# helm + the offline manifest validator (chart checks); the alert-rule test runner (built from
# Prometheus' rule engine); kube-apiserver, controller-manager,
# scheduler, kwok and etcd (cluster tests); Traefik (the one-node cluster's ingress controller);
# KEDA's operator and metrics server (the cluster's KEDA test; Go's toolchain for KEDA's go.mod
# comes from the Go proxy). Built with Go, cached across runs.
tools: ## helm and the Kubernetes control plane, built with Go (cached in ~/.cache)
	tools/install-helm.sh
	tools/install-promrules.sh >/dev/null
	tools/install-controlplane.sh >/dev/null
	tools/install-traefik.sh >/dev/null
	tools/install-keda.sh >/dev/null
	tools/install-skaffold-schema.sh >/dev/null

# Every image GAS runs (services/Dockerfile, moto, pause, coredns, traefik, KEDA's two), built with buildah from
# Debian packages and PyPI only; cached by input hash in ~/.cache/gas/images (root needed).
images: tools ## every image (services/Dockerfile, moto, pause, coredns, traefik) built with buildah, cached by input hash
	python3 tools/images/build.py

run: setup ## the whole stack on this machine, live reload on (docs/local.md; ARGS="--demo --port 8081 ...")
	@$(VENV)/bin/python local/devstack.py $(ARGS)

demo: setup ## make run, plus demo users with a job in every state (completed, failed, archived, restoring)
	@$(VENV)/bin/python local/devstack.py --demo $(ARGS)

# ruff (pycodestyle, pyflakes, bugbear, pyupgrade, isort; the formatter's layout) and
# mypy (strict on libs/core); configured in pyproject.toml.
MYPY_PATHS := libs/core/src services/web/src services/annotator/src services/notifier/src services/archiver/src services/operator/src services/cli/src bench local
lint: setup ## ruff (lint and format check) and mypy, as make test runs them
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy $(MYPY_PATHS)

# npm (any, e.g. Debian's or the one bundled with nodejs) fetches axe-core for the browser
# tests' accessibility checks (tools/install-axe.sh, cached in ~/.cache/gas/axe-core).
test: setup system-deps tools images lint ## every test, lint first (pytest; installs what it needs first)
	tools/install-axe.sh >/dev/null
	$(VENV)/bin/pytest

bench: setup system-deps tools ## every benchmark under bench/, figures against a named peer
	@for b in bench/*.py; do echo "== $$b"; $(VENV)/bin/python $$b || exit 1; done

clean: ## remove .venv, pytest's cache and the local stack's logs (.run)
	rm -rf $(VENV) .pytest_cache .run

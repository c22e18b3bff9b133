{{/* Chart name (app.kubernetes.io/name). */}}
{{- define "gas.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Fully qualified name: <release>-<chart>, or fullnameOverride. */}}
{{- define "gas.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Name of one component's objects: (dict "root" $ "component" "web") */}}
{{- define "gas.componentName" -}}
{{- printf "%s-%s" (include "gas.fullname" .root | trunc 45 | trimSuffix "-") .component | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "gas.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Selector labels: (dict "root" $ "component" "web"); component may be empty. */}}
{{- define "gas.selectorLabels" -}}
app.kubernetes.io/name: {{ include "gas.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- with .component }}
app.kubernetes.io/component: {{ . }}
{{- end }}
{{- end }}

{{/* The version a component deploys (app.kubernetes.io/version): its image tag, then
     image.tag, then appVersion; a "tag@sha256:..." reference keeps the tag.
     (dict "root" $ "component" "web") */}}
{{- define "gas.version" -}}
{{- $v := .root.Values }}
{{- $img := dict }}
{{- if has .component (list "web" "provision" "test") }}{{ $img = $v.web.image }}
{{- else if eq .component "operator" }}{{ $img = $v.operator.image }}
{{- else if eq .component "moto" }}{{ $img = $v.devMode.moto.image }}
{{- else if hasKey $v.workers .component }}{{ $img = (index $v.workers .component).image | default dict }}
{{- end }}
{{- $tag := $img.tag | default $v.image.tag | default .root.Chart.AppVersion | toString }}
{{- regexReplaceAll "[^A-Za-z0-9]+$" ((split "@" $tag)._0 | trunc 63) "" }}
{{- end }}

{{/* Standard labels of every object: (dict "root" $ "component" "web"). */}}
{{- define "gas.labels" -}}
helm.sh/chart: {{ include "gas.chart" .root }}
{{ include "gas.selectorLabels" . }}
app.kubernetes.io/version: {{ include "gas.version" . | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: gas
{{- with .root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Image reference: (dict "root" $ "image" .Values.web.image). */}}
{{- define "gas.image" -}}
{{- $reg := .root.Values.image.registry -}}
{{- $tag := .image.tag | default .root.Values.image.tag | default .root.Chart.AppVersion -}}
{{- if $reg }}{{ $reg | trimSuffix "/" }}/{{ end }}{{ .image.repository }}
{{- if .image.digest }}@{{ .image.digest }}{{ else }}:{{ $tag }}{{ end }}
{{- end }}

{{- define "gas.devMode" -}}
{{- if .Values.devMode.enabled }}true{{ end }}
{{- end }}

{{- define "gas.motoUrl" -}}
{{- printf "http://%s:%v" (include "gas.componentName" (dict "root" . "component" "moto")) .Values.devMode.moto.port }}
{{- end }}

{{- define "gas.publicUrl" -}}
{{- if .Values.publicUrl }}{{ .Values.publicUrl | trimSuffix "/" }}
{{- else }}{{ if .Values.ingress.tls.enabled }}https{{ else }}http{{ end }}://{{ .Values.ingress.host }}
{{- end }}
{{- end }}

{{/* Dev mode behind an ingress: browsers reach moto's S3 at this host (uploads, downloads). */}}
{{- define "gas.devS3Host" -}}
{{- if and .Values.devMode.enabled .Values.ingress.enabled }}
{{- default (printf "s3.%s" .Values.ingress.host) .Values.devMode.moto.ingressHost }}
{{- end }}
{{- end }}

{{- define "gas.secretName" -}}
{{- default (include "gas.fullname" .) .Values.secrets.existingSecret }}
{{- end }}

{{- define "gas.configName" -}}
{{- include "gas.fullname" . }}
{{- end }}

{{/* Shared configuration (the ConfigMap data, and the provisioning Job's env). */}}
{{- define "gas.configData" -}}
GAS_ENV: {{ ternary "dev" .Values.environment .Values.devMode.enabled | quote }}
GAS_PREFIX: {{ .Values.prefix | quote }}
GAS_LOG_LEVEL: {{ .Values.logLevel | quote }}
GAS_PUBLIC_URL: {{ include "gas.publicUrl" . | quote }}
GAS_SES_SENDER: {{ .Values.sesSender | quote }}
GAS_COLD_BACKEND: {{ .Values.coldBackend | quote }}
GAS_ACTIVE_SHARDS: {{ .Values.scale.activeShards | quote }}
GAS_SES_MAX_SEND_RATE: {{ .Values.scale.sesMaxSendRate | quote }}
AWS_REGION: {{ .Values.aws.region | quote }}
AWS_DEFAULT_REGION: {{ .Values.aws.region | quote }}
{{- if .Values.devMode.enabled }}
AWS_ENDPOINT_URL: {{ include "gas.motoUrl" . | quote }}
{{- else if .Values.aws.endpointUrl }}
AWS_ENDPOINT_URL: {{ .Values.aws.endpointUrl | quote }}
{{- end }}
{{- with (include "gas.devS3Host" .) }}
GAS_S3_PUBLIC_ENDPOINT_URL: {{ printf "%s://%s" (ternary "https" "http" $.Values.ingress.tls.enabled) . | quote }}
{{- end }}
{{- end }}

{{/* env entries reading the AWS keys from the Secret (optional: IRSA otherwise). */}}
{{- define "gas.awsSecretEnv" -}}
- name: AWS_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef:
      name: {{ include "gas.secretName" . }}
      key: AWS_ACCESS_KEY_ID
      optional: true
- name: AWS_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "gas.secretName" . }}
      key: AWS_SECRET_ACCESS_KEY
      optional: true
{{- end }}

{{/* Refuse settings the app must never get in a cluster. */}}
{{- define "gas.checkEnv" -}}
{{- range . }}
{{- if eq (upper .name) "GAS_LOCAL_SIGNIN" }}
{{- fail "GAS_LOCAL_SIGNIN must never be set in a cluster: the local sign-in is for the laptop stack only" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "gas.podSecurityContext" -}}
{{- toYaml .Values.podSecurityContext }}
{{- end }}

{{- define "gas.containerSecurityContext" -}}
{{- toYaml .Values.containerSecurityContext }}
{{- end }}

{{/* metadata.annotations of an object (at metadata's indentation): commonAnnotations +
     the object's own. (dict "root" $ "extra" dict); nothing when both are empty. */}}
{{- define "gas.metaAnnotations" -}}
{{- $a := mergeOverwrite (deepCopy (.root.Values.commonAnnotations | default dict)) (deepCopy (.extra | default dict)) }}
{{- with $a }}{{ printf "annotations:\n%s" (toYaml . | indent 2) | nindent 2 }}{{ end }}
{{- end }}

{{/* The replicas a Deployment runs now, or "" (no cluster: helm template, or not there
     yet). When autoscaling (HPA or QueueScaler) owns the count, the chart renders this
     live value instead of dropping the field: dropping it from a release that had it
     makes helm's three-way merge delete it and the API server reset it to 1.
     (dict "root" $ "name" "gas-web") */}}
{{- define "gas.liveReplicas" -}}
{{- $live := lookup "apps/v1" "Deployment" .root.Release.Namespace .name }}
{{- if and $live $live.spec (hasKey $live.spec "replicas") }}{{ $live.spec.replicas }}{{ end }}
{{- end }}

{{/* Scheduling: (dict "root" $ "c" componentValues ["component" name: the default spread]) */}}
{{- define "gas.scheduling" -}}
{{- with (default .root.Values.priorityClassName .c.priorityClassName) }}
priorityClassName: {{ . }}
{{- end }}
{{- with .c.topologySpreadConstraints }}
topologySpreadConstraints:
  {{- toYaml . | nindent 2 }}
{{- else }}
{{- if and .component .root.Values.defaultTopologySpread }}
{{- /* The chart's default for web and workers: replicas spread over zones, then nodes,
       as far as the cluster allows (ScheduleAnyway: a one-zone or one-node cluster still
       schedules them). Per-component topologySpreadConstraints replace it. */}}
topologySpreadConstraints:
  {{- range list "topology.kubernetes.io/zone" "kubernetes.io/hostname" }}
  - maxSkew: 1
    topologyKey: {{ . }}
    whenUnsatisfiable: ScheduleAnyway
    labelSelector:
      matchLabels:
        {{- include "gas.selectorLabels" (dict "root" $.root "component" $.component) | nindent 8 }}
  {{- end }}
{{- end }}
{{- end }}
{{- with (default .root.Values.nodeSelector .c.nodeSelector) }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with (default .root.Values.tolerations .c.tolerations) }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with (default .root.Values.affinity .c.affinity) }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* The enabled workers, defaults merged: a dict name -> values (as YAML). */}}
{{- define "gas.workers" -}}
{{- $out := dict }}
{{- $fenced := include "gas.deletionCostFenceable" . }}
{{- range $name, $w := .Values.workers }}
{{- $merged := mergeOverwrite (deepCopy $.Values.workerDefaults) (deepCopy $w) }}
{{- if not $fenced }}{{ $_ := set $merged "podDeletionCost" false }}{{ end }}
{{- if $merged.enabled }}
{{- if not $merged.image.repository }}{{ $_ := set $merged.image "repository" (printf "gas-%s" $name) }}{{ end }}
{{- if not $merged.command }}{{ $_ := set $merged "command" (list (printf "gas-%s" $name)) }}{{ end }}
{{- if not $merged.queue }}{{ $_ := set $merged "queue" $name }}{{ end }}
{{- $_ := set $out $name $merged }}
{{- end }}
{{- end }}
{{- toYaml $out }}
{{- end }}

{{/* ServiceAccount name: (dict "root" $ "component" "web" "sa" .Values.web.serviceAccount) */}}
{{- define "gas.serviceAccountName" -}}
{{- if .sa.create }}
{{- default (include "gas.componentName" (dict "root" .root "component" .component)) .sa.name }}
{{- else }}
{{- default "default" .sa.name }}
{{- end }}
{{- end }}

{{/* Pod template annotations that roll the pods when their configuration changes: the
     ConfigMap, and the Secret's data (the chart's own from the values — a generated dev
     key is stable, read back with lookup; an existingSecret's data through lookup, so a
     `helm upgrade` after rotating it rolls the pods). */}}
{{- define "gas.checksums" -}}
checksum/config: {{ include (print .Template.BasePath "/configmap.yaml") . | sha256sum }}
{{- if .Values.secrets.existingSecret }}
{{- $existing := lookup "v1" "Secret" .Release.Namespace .Values.secrets.existingSecret }}
checksum/secret: {{ (($existing | default dict).data | default dict) | toJson | sha256sum }}
{{- else }}
checksum/secret: {{ .Values.secrets | toJson | sha256sum }}
{{- end }}
{{- end }}

{{/* When the provisioning Job (and its ServiceAccount) run: before install against real
     AWS, after install in dev mode (moto must be up); before every upgrade. */}}
{{- define "gas.provisionHookEvents" -}}
{{- if .Values.devMode.enabled }}post-install,pre-upgrade{{ else }}pre-install,pre-upgrade{{ end }}
{{- end }}

{{/* A Kubernetes quantity (the schema's pattern) in bytes, as an integer. */}}
{{- define "gas.bytes" -}}
{{- $q := toString . }}
{{- $num := regexFind "^[0-9]+(\\.[0-9]+)?" $q }}
{{- $suffix := trimPrefix $num $q }}
{{- $mult := dict "" 1 "k" 1000 "M" 1000000 "G" 1000000000 "T" 1000000000000 "Ki" 1024 "Mi" 1048576 "Gi" 1073741824 "Ti" 1099511627776 }}
{{- if hasKey $mult $suffix }}{{ mulf (float64 $num) (index $mult $suffix) | int64 }}
{{- else if eq $suffix "m" }}{{ divf (float64 $num) 1000 | int64 }}
{{- else if regexMatch "^e[0-9]+$" $suffix }}
{{- $v := float64 $num }}{{ range until (atoi (trimPrefix "e" $suffix)) }}{{ $v = mulf $v 10 }}{{ end }}{{ $v | int64 }}
{{- else }}{{ fail (printf "%s is not a quantity the chart can size" $q) }}
{{- end }}
{{- end }}

{{/* The annotator's scratch must hold the largest upload by the annotator's own estimate
     (gas.annotator.worker.scratch_needed: the input plus GZ_EXPANSION=10 times it,
     decompressed, times GAS_SCRATCH_OUTPUT_FACTOR), or every such job is evicted until it
     fails as "kept crashing". (dict "root" $ "w" <the annotator's merged values>) */}}
{{- define "gas.scratchFits" -}}
{{- $w := .w }}
{{- $web := .root.Values.web }}
{{- $cap := max (int64 $web.premiumUploadLimit) (int64 $web.freeUploadLimit) }}
{{- $factor := float64 (default "3" (index ($w.env | default dict) "GAS_SCRATCH_OUTPUT_FACTOR")) }}
{{- $need := addf $cap (mulf (mulf $cap 10) $factor) | int64 }}
{{- $have := include "gas.bytes" $w.scratch.sizeLimit | int64 }}
{{- if lt $have $need }}
{{- fail (printf "workers.annotator.scratch.sizeLimit %s (%d MiB) cannot hold an upload of web.premiumUploadLimit (%d MiB): a .vcf.gz of that size needs about %d MiB of scratch by the annotator's estimate (input + 10x decompressed x output factor %g). Raise sizeLimit (scratch.storageClassName puts it on a gp3 volume) or lower premiumUploadLimit." $w.scratch.sizeLimit (div $have 1048576) (div $cap 1048576) (div $need 1048576) $factor) }}
{{- end }}
{{- end }}

{{/* "true" where the cluster can fence the workers' `pods: patch` (pod-deletion-cost.yaml):
     a ValidatingAdmissionPolicy in admissionregistration.k8s.io/v1 and the token's
     pod-name claim, both Kubernetes 1.30. A live cluster's discovery lists the kind;
     `helm template` lists group versions only (no kinds), so there --kube-version
     decides. Elsewhere the workers get no Role, no token and no deletion cost (NOTES.txt). */}}
{{- define "gas.deletionCostFenceable" -}}
{{- $api := .Capabilities.APIVersions }}
{{- if $api.Has "admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy" }}true
{{- else if and (not ($api.Has "admissionregistration.k8s.io/v1/ValidatingWebhookConfiguration")) (semverCompare ">=1.30.0-0" .Capabilities.KubeVersion.Version) }}true
{{- end }}
{{- end }}

{{/* Production mode (environment: production, no dev mode) refuses the values that only
     stand for real ones: an example.* host or sender, the bare "gas" prefix (S3 bucket
     names are global: gas-inputs is someone else's), and an image with no registry (pulled
     from Docker Hub's library by name). values.schema.json refuses the same first, one
     error per value; this list is what --skip-schema-validation shows. Included once, from
     configmap.yaml. */}}
{{- define "gas.refusePlaceholders" -}}
{{- if and (eq .Values.environment "production") (not .Values.devMode.enabled) }}
{{- $bad := list }}
{{- $example := "(^|[.@])example\\.(org|com|net)$" }}
{{- $hosts := dict }}
{{- if .Values.publicUrl }}{{ $_ := set $hosts "publicUrl" (regexReplaceAll "^[a-z]+://([^/:]+).*$" .Values.publicUrl "${1}") }}{{ end }}
{{- if or .Values.ingress.enabled (not .Values.publicUrl) }}{{ $_ := set $hosts "ingress.host" .Values.ingress.host }}{{ end }}
{{- range $key, $host := $hosts }}
{{- if regexMatch $example $host }}
{{- $bad = append $bad (printf "the public host %q (%s) is a placeholder" $host $key) }}
{{- end }}
{{- end }}
{{- if regexMatch $example .Values.sesSender }}
{{- $bad = append $bad (printf "sesSender %q is a placeholder (a verified SES address of your domain)" .Values.sesSender) }}
{{- end }}
{{- if eq .Values.prefix "gas" }}
{{- $bad = append $bad "prefix \"gas\" names buckets gas-inputs, gas-results: S3 bucket names are global, choose a prefix of your own (e.g. acme-gas-prod)" }}
{{- end }}
{{- $images := dict "web.image" .Values.web.image }}
{{- range $name, $w := include "gas.workers" . | fromYaml }}{{ $_ := set $images (printf "workers.%s.image" $name) $w.image }}{{ end }}
{{- if .Values.operator.enabled }}{{ $_ := set $images "operator.image" .Values.operator.image }}{{ end }}
{{- $registry := "^(localhost|[^/]*[.:][^/]*)/" }}
{{- if not .Values.image.registry }}
{{- range $key, $img := $images }}
{{- if not (regexMatch $registry $img.repository) }}
{{- $bad = append $bad (printf "%s.repository %q has no registry (set image.registry, e.g. <account>.dkr.ecr.<region>.amazonaws.com)" $key $img.repository) }}
{{- end }}
{{- end }}
{{- end }}
{{- if and .Values.tests.image (not (regexMatch $registry .Values.tests.image)) }}
{{- $bad = append $bad (printf "tests.image %q has no registry (used as written: e.g. docker.io/%s)" .Values.tests.image .Values.tests.image) }}
{{- end }}
{{- if $bad }}
{{- fail (printf "environment: production refuses placeholder values:\n  - %s\nSet real ones (charts/gas/values-eks.yaml shows each), or devMode.enabled for a throwaway install." (join "\n  - " $bad)) }}
{{- end }}
{{- end }}
{{- end }}

{{/* Deployment annotations asking Stakater Reloader to roll the pods when the existing
     Secret they read changes (secrets.reloader). */}}
{{- define "gas.reloader" -}}
{{- if and .Values.secrets.reloader .Values.secrets.existingSecret }}
secret.reloader.stakater.com/reload: {{ .Values.secrets.existingSecret | quote }}
{{- end }}
{{- end }}

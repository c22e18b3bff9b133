{{/* What owns a worker's replica count: "queueScaler" (its QueueScaler; only when the
     operator runs), "keda" (a KEDA ScaledObject) or "" (replicaCount).
     (dict "root" $ "w" workerValues) */}}
{{- define "gas.autoscaler" -}}
{{- if eq .w.autoscaler "keda" }}keda
{{- else if and (eq .w.autoscaler "queueScaler") .root.Values.operator.enabled }}queueScaler
{{- end }}
{{- end }}

{{/* A worker's scaling targets, whatever applies them: operator.scalerDefaults with the
     worker's own `scaler` overrides (as YAML). (dict "root" $ "w" workerValues) */}}
{{- define "gas.scalerSpec" -}}
{{- toYaml (mergeOverwrite (deepCopy .root.Values.operator.scalerDefaults) (deepCopy (.w.scaler | default dict))) }}
{{- end }}

{{/* The SQS endpoint a scaler outside GAS's processes reads: moto in dev mode, the
     aws.endpointUrl override, or "" (AWS's own). Moto's name carries the release's
     namespace: KEDA's operator, which reads the queue, runs in a namespace of its own. */}}
{{- define "gas.sqsEndpoint" -}}
{{- if .Values.devMode.enabled }}
{{- printf "http://%s.%s.svc:%v" (include "gas.componentName" (dict "root" . "component" "moto")) .Release.Namespace .Values.devMode.moto.port }}
{{- else }}{{ .Values.aws.endpointUrl }}
{{- end }}
{{- end }}

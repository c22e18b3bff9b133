{{/* Reference data (annotation.bundles / annotation.sources, decision 95): built once into
     the references bucket by the gas-references Job (references.yaml), fetched into each
     annotator's own volume by an init container before the worker starts (so a pod
     whose bundle is not built yet is never Ready), and the bundles' manifests into web's
     (what its form and API offer). */}}

{{/* "true" when the values declare any bundle or source. */}}
{{- define "gas.references.enabled" -}}
{{- if or .Values.annotation.bundles .Values.annotation.sources }}true{{ end }}
{{- end }}

{{/* Where the annotator (and web) keep the fetched references: their GAS_ANNOTATION_DB_DIR. */}}
{{- define "gas.references.dir" -}}/var/lib/gas/references{{- end }}

{{/* The spec every step reads (GAS_REFERENCES_SPEC, gas.core.references.parse_spec). */}}
{{- define "gas.references.specEnv" -}}
- name: GAS_REFERENCES_SPEC
  value: {{ dict "bundles" .Values.annotation.bundles "sources" .Values.annotation.sources | toJson | quote }}
{{- end }}

{{/* The fetch init container: (dict "root" $ "image" <image values> "args" <extra args>) */}}
{{- define "gas.references.initContainer" -}}
{{- $f := .root.Values.annotation.fetch }}
- name: fetch-references
  image: {{ include "gas.image" (dict "root" .root "image" .image) }}
  imagePullPolicy: {{ .root.Values.image.pullPolicy }}
  # Waits for the gas-references Job (on install in dev mode it runs beside the pods),
  # then downloads and checks each item; failing, it restarts and the pod stays unready.
  command:
    - gas-fetch-references
    - --dest
    - {{ include "gas.references.dir" .root }}
    - --wait-seconds
    - {{ $f.waitSeconds | quote }}
    {{- range .args }}
    - {{ . | quote }}
    {{- end }}
  envFrom:
    - configMapRef:
        name: {{ include "gas.configName" .root }}
  env:
    {{- include "gas.references.specEnv" .root | nindent 4 }}
    {{- include "gas.awsSecretEnv" .root | nindent 4 }}
  resources:
    {{- toYaml $f.resources | nindent 4 }}
  securityContext:
    {{- include "gas.containerSecurityContext" .root | nindent 4 }}
  volumeMounts:
    - name: tmp
      mountPath: /tmp
    - name: references
      mountPath: {{ include "gas.references.dir" .root }}
{{- end }}

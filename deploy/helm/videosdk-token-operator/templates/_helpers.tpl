{{/* Chart name, overridable. */}}
{{- define "videosdk-token-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Full name of the release's objects. */}}
{{- define "videosdk-token-operator.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Labels of every object. */}}
{{- define "videosdk-token-operator.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "videosdk-token-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: videosdk-token-operator
{{- with .Values.global.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* imagePullSecrets: global.imagePullSecrets, then imagePullSecrets. */}}
{{- define "videosdk-token-operator.imagePullSecrets" -}}
{{- $secrets := concat .Values.global.imagePullSecrets .Values.imagePullSecrets -}}
{{- if $secrets -}}
imagePullSecrets:
  {{- toYaml $secrets | nindent 2 }}
{{- end -}}
{{- end -}}

{{/* The pod's priorityClassName: priorityClassName, else global.priorityClassName. */}}
{{- define "videosdk-token-operator.priorityClassName" -}}
{{- default .Values.global.priorityClassName .Values.priorityClassName -}}
{{- end -}}

{{/* Labels of the `helm test` Pod: the chart's, with a component the operator's selectors do not match. */}}
{{- define "videosdk-token-operator.testLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "videosdk-token-operator.testSelectorLabels" . }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: videosdk-token-operator
{{- with .Values.global.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Labels that select the `helm test` Pod (the NetworkPolicy lets it reach the metrics port). */}}
{{- define "videosdk-token-operator.testSelectorLabels" -}}
app.kubernetes.io/name: {{ include "videosdk-token-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: test
{{- end -}}

{{/* Labels that select the operator's pods. */}}
{{- define "videosdk-token-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "videosdk-token-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end -}}

{{/* The ServiceAccount the operator runs as. */}}
{{- define "videosdk-token-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "videosdk-token-operator.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The operator's image: repository@digest when image.digest is set, else repository:tag. */}}
{{- define "videosdk-token-operator.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/*
RBAC rules kept in one place: files/*.yaml are complete RBAC objects that the kustomize base
applies as they are; the chart renders only their `rules`. Argument: the file's path.
*/}}
{{- define "videosdk-token-operator.rulesFrom" -}}
{{- $file := index . 0 -}}
{{- $root := index . 1 -}}
{{- $object := $root.Files.Get $file | fromYaml -}}
{{- if not $object.rules -}}
{{- fail (printf "%s has no rules" $file) -}}
{{- end -}}
{{- toYaml $object.rules -}}
{{- end -}}

{{/* The TLS Secret of the token request endpoint: tokenRequests.tls.secretName, else the cert-manager Certificate's. */}}
{{- define "videosdk-token-operator.tokenRequestsTlsSecret" -}}
{{- if .Values.tokenRequests.tls.secretName -}}
{{- .Values.tokenRequests.tls.secretName -}}
{{- else if .Values.tokenRequests.tls.certManager.enabled -}}
{{- printf "%s-token-requests-tls" (include "videosdk-token-operator.fullname" .) -}}
{{- else -}}
{{- fail "tokenRequests.enabled needs a certificate: set tokenRequests.tls.secretName, or tokenRequests.tls.certManager.enabled with its issuerName" -}}
{{- end -}}
{{- end -}}

{{/*
The operator's rights from one file of files/: a ClusterRole and a ClusterRoleBinding when
`namespaces` is empty, else a Role and a RoleBinding in each of `namespaces`, so that what is
granted follows the install's configuration (the book, "What the ClusterRole allows and why").
Argument: dict "root" . "file" "files/….yaml" "suffix" "-…" "namespaces" (list …).
*/}}
{{- define "videosdk-token-operator.grant" -}}
{{- $root := .root -}}
{{- $name := printf "%s%s" (include "videosdk-token-operator.fullname" $root) .suffix -}}
{{- $rules := include "videosdk-token-operator.rulesFrom" (list .file $root) -}}
{{- if not .namespaces }}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: {{ $name }}
  labels:
    {{- include "videosdk-token-operator.labels" $root | nindent 4 }}
rules:
  {{- $rules | nindent 2 }}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: {{ $name }}
  labels:
    {{- include "videosdk-token-operator.labels" $root | nindent 4 }}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: {{ $name }}
subjects:
  - kind: ServiceAccount
    name: {{ include "videosdk-token-operator.serviceAccountName" $root }}
    namespace: {{ $root.Release.Namespace }}
{{- else }}
{{- range $namespace := .namespaces }}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: {{ $name }}
  namespace: {{ $namespace }}
  labels:
    {{- include "videosdk-token-operator.labels" $root | nindent 4 }}
rules:
  {{- $rules | nindent 2 }}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: {{ $name }}
  namespace: {{ $namespace }}
  labels:
    {{- include "videosdk-token-operator.labels" $root | nindent 4 }}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: {{ $name }}
subjects:
  - kind: ServiceAccount
    name: {{ include "videosdk-token-operator.serviceAccountName" $root }}
    namespace: {{ $root.Release.Namespace }}
{{- end }}
{{- end }}
{{- end -}}

{{/*
A Go duration in seconds (a float), as the operator's flags parse it (Go's time.ParseDuration: a
sequence of numbers, each with a unit, ns to h); fails naming the value when it is not one, so
that a wrong value fails `helm install` rather than the operator's start. Argument: list "value
name" value.
*/}}
{{- define "videosdk-token-operator.durationSeconds" -}}
{{- $name := index . 0 -}}
{{- $value := toString (index . 1) -}}
{{- $number := "([0-9]+([.][0-9]*)?|[.][0-9]+)" -}}
{{- $parts := regexFindAll (printf "%s(ns|us|µs|μs|ms|s|m|h)" $number) $value -1 -}}
{{- if or (not $parts) (ne (join "" $parts) $value) -}}
{{- fail (printf "%s: %q is not a Go duration (e.g. 2m, 1h30m)" $name $value) -}}
{{- end -}}
{{- $unitSeconds := dict "ns" 1e-9 "us" 1e-6 "µs" 1e-6 "μs" 1e-6 "ms" 1e-3 "s" 1.0 "m" 60.0 "h" 3600.0 -}}
{{- $seconds := 0.0 -}}
{{- range $parts -}}
{{- $n := regexFind (printf "^%s" $number) . -}}
{{- $seconds = addf $seconds (mulf (float64 $n) (get $unitSeconds (trimPrefix $n .))) -}}
{{- end -}}
{{- $seconds -}}
{{- end -}}

{{/*
maxTtl, checked as `run --max-ttl` checks it at start: 1m to 8760h, the ttls a VideoSdkToken may
have (src/cli/run.rs).
*/}}
{{- define "videosdk-token-operator.maxTtl" -}}
{{- $seconds := include "videosdk-token-operator.durationSeconds" (list "maxTtl" .Values.maxTtl) | float64 -}}
{{- if or (lt $seconds 60.0) (gt $seconds 31536000.0) -}}
{{- fail (printf "maxTtl: %s is outside 1m to 8760h, the ttls a VideoSdkToken may have" .Values.maxTtl) -}}
{{- end -}}
{{- .Values.maxTtl -}}
{{- end -}}

{{/*
minRenewBefore, checked as `run --min-renew-before` checks it at start (src/cli/run.rs): at least
2m, the CRD's floor of every token's renew window, and shorter than 8760h, the longest ttl.
*/}}
{{- define "videosdk-token-operator.minRenewBefore" -}}
{{- $seconds := include "videosdk-token-operator.durationSeconds" (list "minRenewBefore" .Values.minRenewBefore) | float64 -}}
{{- if lt $seconds 120.0 -}}
{{- fail (printf "minRenewBefore: %s is below 2m, the CRD's floor of a token's renew window (the kubelet updates a mounted Secret up to 90s after a re-sign): it may only be raised" .Values.minRenewBefore) -}}
{{- else if ge $seconds 31536000.0 -}}
{{- fail (printf "minRenewBefore: %s is not shorter than 8760h, the longest ttl a VideoSdkToken may have" .Values.minRenewBefore) -}}
{{- end -}}
{{- .Values.minRenewBefore -}}
{{- end -}}

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
app.kubernetes.io/name: {{ include "videosdk-token-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: test
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: videosdk-token-operator
{{- with .Values.global.commonLabels }}
{{ toYaml . }}
{{- end }}
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
granted follows the install's configuration (README: "What the ClusterRole allows and why").
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

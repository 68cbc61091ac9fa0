{{- define "angzarr.fullname" -}}
{{- printf "%s-%s" .Release.Name .Values.domain.name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

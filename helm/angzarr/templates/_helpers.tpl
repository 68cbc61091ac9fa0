{{/*
Names and labels.
*/}}
{{- define "angzarr.fullname" -}}
{{- if contains "angzarr" .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-angzarr" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* A resource name: the release's full name and a suffix. (dict "root" $ "suffix" S) */}}
{{- define "angzarr.name" -}}
{{- printf "%s-%s" (include "angzarr.fullname" .root) .suffix | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* (dict "root" $ "component" C ["handler" NAME]) */}}
{{- define "angzarr.selectorLabels" -}}
app.kubernetes.io/name: angzarr
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- with .handler }}
angzarr.dev/handler: {{ . }}
{{- end }}
{{- end -}}

{{- define "angzarr.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
{{ include "angzarr.selectorLabels" . }}
{{- end -}}

{{- define "angzarr.serviceAccountName" -}}
{{- .Values.serviceAccount.name | default (include "angzarr.fullname" .) -}}
{{- end -}}

{{/* (dict "root" $ "image" IMAGE-VALUES) */}}
{{- define "angzarr.image" -}}
{{- printf "%s:%s" .image.repository (.image.tag | default .root.Chart.AppVersion) -}}
{{- end -}}

{{/* host:port, bracketing an IPv6 host. (dict "host" H "port" P) */}}
{{- define "angzarr.hostPort" -}}
{{- if contains ":" .host -}}
{{- printf "[%s]:%d" .host (int .port) -}}
{{- else -}}
{{- printf "%s:%d" .host (int .port) -}}
{{- end -}}
{{- end -}}

{{/* A YAML single-quoted scalar: the only escape is '' for '. */}}
{{- define "angzarr.squote" -}}
'{{ replace "'" "''" (toString .) }}'
{{- end -}}

{{/*
Where the gateway's listeners bind: `gateway.listenAddress`, else 127.0.0.1,
or 0.0.0.0 when the gateway has a Service (a Service reaches the pod IP).
*/}}
{{- define "angzarr.gatewayAddress" -}}
{{- $g := .Values.gateway -}}
{{- $g.listenAddress | default (ternary "0.0.0.0" "127.0.0.1" $g.service.enabled) -}}
{{- end -}}

{{- define "angzarr.isLoopback" -}}
{{- if or (hasPrefix "127." .) (eq . "localhost") (eq . "::1") -}}true{{- end -}}
{{- end -}}

{{/*
The handlers and domains in force, as JSON: the values' own, plus the poker
example's while `example.enabled` (handler `poker` serving the domains
player, hand and table); an entry of the values with the same name wins.
*/}}
{{- define "angzarr.topology" -}}
{{- $v := .Values -}}
{{- $handlers := dict -}}
{{- $domains := dict -}}
{{- if $v.example.enabled -}}
{{- $_ := set $handlers "poker" (dict "image" $v.example.image "port" 50051 "listenEnv" "LISTEN" "replicas" $v.example.replicas "resources" $v.example.resources) -}}
{{- range list "player" "hand" "table" -}}
{{- $_ := set $domains . (dict "handler" "poker") -}}
{{- end -}}
{{- end -}}
{{- $handlers = merge (deepCopy ($v.handlers | default dict)) $handlers -}}
{{- $domains = merge (deepCopy ($v.domains | default dict)) $domains -}}
{{- toJson (dict "handlers" $handlers "domains" $domains) -}}
{{- end -}}

{{/*
How each handler is used, as JSON: {NAME: {"command": B, "service": B}}.
command: it serves domains or process managers (in sidecar mode its pod
carries a command-handler coordinator); service: a coordinator in another pod
calls it (it gets a Service and listens on the pod IP). In roles mode every
handler is called through its Service.
*/}}
{{- define "angzarr.handlerUse" -}}
{{- $v := .Values -}}
{{- $t := include "angzarr.topology" . | fromJson -}}
{{- $use := dict -}}
{{- range $name, $h := $t.handlers -}}
{{- $_ := set $use $name (dict "command" false "service" (eq $v.mode "roles")) -}}
{{- end -}}
{{- range $name, $d := $t.domains -}}
{{- if and $d.handler (hasKey $use ($d.handler | toString)) -}}{{- $_ := set (get $use $d.handler) "command" true -}}{{- end -}}
{{- if and $d.upcaster (hasKey $use ($d.upcaster | toString)) -}}{{- $_ := set (get $use $d.upcaster) "service" true -}}{{- end -}}
{{- end -}}
{{- range $name, $p := $v.processManagers -}}
{{- if hasKey $use $p.handler -}}{{- $_ := set (get $use $p.handler) "command" true -}}{{- end -}}
{{- end -}}
{{- range $kind, $map := dict "projectors" $v.projectors "sagas" $v.sagas -}}
{{- range $name, $p := $map -}}
{{- if hasKey $use $p.handler -}}{{- $_ := set (get $use $p.handler) "service" true -}}{{- end -}}
{{- end -}}
{{- end -}}
{{- toJson $use -}}
{{- end -}}

{{/*
The URL of a handler reference: a URL as given, or a name in `handlers` —
its Service, or 127.0.0.1 for the coordinator in the handler's own pod.
(dict "root" $ "ref" REF "local" BOOL "what" "domain `player`")
*/}}
{{- define "angzarr.url" -}}
{{- $ref := .ref | toString -}}
{{- if contains "://" $ref -}}
{{- $ref -}}
{{- else if hasKey (include "angzarr.topology" .root | fromJson).handlers $ref -}}
{{- $h := get (include "angzarr.topology" .root | fromJson).handlers $ref -}}
{{- if .local -}}
{{- printf "http://127.0.0.1:%d" (int $h.port) -}}
{{- else -}}
{{- printf "http://%s:%d" (include "angzarr.name" (dict "root" .root "suffix" (printf "handler-%s" $ref))) (int $h.port) -}}
{{- end -}}
{{- else -}}
{{- fail (printf "%s names handler %q, which is not under `handlers` (or give a URL such as http://host:50051)" .what $ref) -}}
{{- end -}}
{{- end -}}

{{/*
Everything the schema cannot say; refused with a message naming the value.
*/}}
{{- define "angzarr.validate" -}}
{{- $v := .Values -}}
{{- $t := include "angzarr.topology" . | fromJson -}}
{{- if not $t.domains -}}
{{- fail "no domains: list yours under `domains` (and their business logic under `handlers`), or keep example.enabled" -}}
{{- end -}}
{{- range $kind, $map := dict "projector" $v.projectors "saga" $v.sagas "process manager" $v.processManagers -}}
{{- range $name, $p := $map -}}
{{- range $p.domains -}}
{{- if not (hasKey $t.domains .) -}}
{{- fail (printf "%s `%s` listens to `%s`, which is not under `domains`" $kind $name .) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- range $name, $p := $v.processManagers -}}
{{- if hasKey $t.domains $name -}}
{{- fail (printf "process manager `%s` has the name of a domain; its own logs need a domain of their own" $name) -}}
{{- end -}}
{{- end -}}
{{- if eq $v.mode "sidecar" -}}
{{- range $kind, $map := dict "domain" $t.domains "process manager" $v.processManagers -}}
{{- range $name, $d := $map -}}
{{- if and $d.handler (not (hasKey $t.handlers ($d.handler | toString))) -}}
{{- fail (printf "mode sidecar runs the command handler beside its handler: %s `%s` must name one of `handlers` (or use mode: roles for a URL)" $kind $name) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $g := $v.gateway -}}
{{- $addr := include "angzarr.gatewayAddress" . -}}
{{- if and $g.service.enabled (include "angzarr.isLoopback" $addr) -}}
{{- fail (printf "gateway.service.enabled: a Service cannot reach a gateway bound to %s; set gateway.listenAddress to 0.0.0.0 (or leave it empty)" $addr) -}}
{{- end -}}
{{- if and (not (include "angzarr.isLoopback" $addr)) (not $g.tls.enabled) (not $g.allowPlaintext) -}}
{{- fail (printf "the gateway would listen on %s without TLS: set gateway.tls.enabled and gateway.tls.secretName (a kubernetes.io/tls secret), or gateway.allowPlaintext: true behind a mesh that encrypts" $addr) -}}
{{- end -}}
{{- if and $g.tls.enabled (not $g.tls.secretName) -}}
{{- fail "gateway.tls.enabled needs gateway.tls.secretName (a kubernetes.io/tls secret)" -}}
{{- end -}}
{{- if and $v.kafka.tls.enabled (not $v.kafka.tls.secretName) -}}
{{- fail "kafka.tls.enabled needs kafka.tls.secretName (a secret holding the CA, and tls.crt/tls.key with clientCert)" -}}
{{- end -}}
{{- if and $v.kafka.sasl.enabled (or (not $v.kafka.sasl.username) (not $v.kafka.sasl.passwordSecret.name)) -}}
{{- fail "kafka.sasl.enabled needs kafka.sasl.username and kafka.sasl.passwordSecret.name" -}}
{{- end -}}
{{- end -}}

{{/*
librdkafka settings, as JSON: derived from kafka.tls and kafka.sasl, then
kafka.settings over them.
*/}}
{{- define "angzarr.kafkaSettings" -}}
{{- $k := .Values.kafka -}}
{{- $s := dict -}}
{{- if and $k.tls.enabled $k.sasl.enabled -}}
{{- $_ := set $s "security.protocol" "SASL_SSL" -}}
{{- else if $k.tls.enabled -}}
{{- $_ := set $s "security.protocol" "SSL" -}}
{{- else if $k.sasl.enabled -}}
{{- $_ := set $s "security.protocol" "SASL_PLAINTEXT" -}}
{{- end -}}
{{- if $k.tls.enabled -}}
{{- $_ := set $s "ssl.ca.location" (printf "/etc/angzarr/tls/kafka/%s" $k.tls.caKey) -}}
{{- if $k.tls.clientCert -}}
{{- $_ := set $s "ssl.certificate.location" "/etc/angzarr/tls/kafka/tls.crt" -}}
{{- $_ := set $s "ssl.key.location" "/etc/angzarr/tls/kafka/tls.key" -}}
{{- end -}}
{{- end -}}
{{- if $k.sasl.enabled -}}
{{- $_ := set $s "sasl.mechanism" $k.sasl.mechanism -}}
{{- $_ := set $s "sasl.username" $k.sasl.username -}}
{{- $_ := set $s "sasl.password" "${KAFKA_SASL_PASSWORD}" -}}
{{- end -}}
{{- range $key, $val := $k.settings -}}
{{- $_ := set $s $key (toString $val) -}}
{{- end -}}
{{- toJson $s -}}
{{- end -}}

{{/*
The coordinators' angzarr.yaml (keys: coordinators/src/config). Variants:
  full    — every role of mode roles: domains with their handlers' URLs;
  shared  — gateway and downstream of mode sidecar: no domain handlers (the
            sidecars serve them);
  sidecar — the command-handler coordinator in handler NAME's pod: only the
            domains and process managers NAME serves, over 127.0.0.1.
(dict "root" $ "variant" V ["handler" NAME])
*/}}
{{- define "angzarr.config" -}}
{{- $root := .root -}}
{{- $v := $root.Values -}}
{{- $variant := .variant -}}
{{- $only := .handler | default "" -}}
{{- $k := $v.kafka -}}
{{- $g := $v.gateway -}}
{{- $t := include "angzarr.topology" $root | fromJson -}}
log:
  type: kafka
  bootstrap_servers: {{ $k.bootstrapServers | toJson }}
  topic_prefix: {{ $k.topicPrefix | toJson }}
  partitions: {{ int $k.partitions }}
  {{- if $k.replicationFactor }}
  replication_factor: {{ int $k.replicationFactor }}
  {{- end }}
  {{- if $k.minInsyncReplicas }}
  min_insync_replicas: {{ int $k.minInsyncReplicas }}
  {{- end }}
  transaction_timeout: {{ $k.transactionTimeout | default "30s" | toJson }}
  create_topics: {{ $k.createTopics }}
  session_timeout: {{ $k.sessionTimeout | toJson }}
  connect_timeout: {{ $k.connectTimeout | toJson }}
  {{- $settings := include "angzarr.kafkaSettings" $root | fromJson }}
  {{- if $settings }}
  settings:
    {{- range $key, $val := $settings }}
    {{ $key | toJson }}: {{ include "angzarr.squote" $val }}
    {{- end }}
  {{- end }}
admin:
  listen: {{ include "angzarr.hostPort" (dict "host" $v.admin.listenAddress "port" $v.admin.port) | toJson }}
{{- if ne $variant "sidecar" }}
gateway:
  {{- $addr := include "angzarr.gatewayAddress" $root }}
  listen: {{ include "angzarr.hostPort" (dict "host" $addr "port" $g.grpcPort) | toJson }}
  {{- if $g.httpPort }}
  http_listen: {{ include "angzarr.hostPort" (dict "host" $addr "port" $g.httpPort) | toJson }}
  {{- end }}
  max_command_bytes: {{ int $g.maxCommandBytes }}
  decision_timeout: {{ $g.decisionTimeout | toJson }}
  {{- if $g.tls.enabled }}
  tls:
    cert: /etc/angzarr/tls/gateway/tls.crt
    key: /etc/angzarr/tls/gateway/tls.key
    {{- if $g.tls.clientCA.secretName }}
    client_ca: {{ printf "/etc/angzarr/tls/gateway-client-ca/%s" $g.tls.clientCA.key | toJson }}
    {{- end }}
  {{- end }}
max_cascade_depth: {{ int $g.maxCascadeDepth }}
{{- end }}
{{- if ne $variant "shared" }}
command_handler:
  {{- range $key, $val := $v.commandHandler.settings }}
  {{ $key }}: {{ $val | toJson }}
  {{- end }}
  state_dir: /tmp
  owner_listen: {{ printf "0.0.0.0:%d" (int $v.commandHandler.ownerPort) | toJson }}
  owner_advertise: {{ printf "${POD_IP:-127.0.0.1}:%d" (int $v.commandHandler.ownerPort) | toJson }}
{{- end }}
domains:
  {{- range $name, $d := $t.domains }}
  {{ $name | toJson }}:
    {{- if $d.handler }}
    {{- if eq $variant "full" }}
    handler: {{ include "angzarr.url" (dict "root" $root "ref" $d.handler "local" false "what" (printf "domain `%s`" $name)) | toJson }}
    {{- else if and (eq $variant "sidecar") (eq ($d.handler | toString) $only) }}
    handler: {{ include "angzarr.url" (dict "root" $root "ref" $d.handler "local" true "what" (printf "domain `%s`" $name)) | toJson }}
    {{- end }}
    {{- end }}
    snapshot_every: {{ hasKey $d "snapshotEvery" | ternary $d.snapshotEvery 100 | int }}
    {{- with $d.upcaster }}
    upcaster: {{ include "angzarr.url" (dict "root" $root "ref" . "local" false "what" (printf "the upcaster of domain `%s`" $name)) | toJson }}
    {{- end }}
  {{- end }}
{{- if ne $variant "sidecar" }}
{{- with $v.projectors }}
projectors:
  {{- range $name, $p := . }}
  {{ $name | toJson }}:
    handler: {{ include "angzarr.url" (dict "root" $root "ref" $p.handler "local" false "what" (printf "projector `%s`" $name)) | toJson }}
    domains: {{ $p.domains | toJson }}
    sync: {{ $p.sync | default false }}
  {{- end }}
{{- end }}
{{- with $v.sagas }}
sagas:
  {{- range $name, $s := . }}
  {{ $name | toJson }}:
    handler: {{ include "angzarr.url" (dict "root" $root "ref" $s.handler "local" false "what" (printf "saga `%s`" $name)) | toJson }}
    domains: {{ $s.domains | toJson }}
  {{- end }}
{{- end }}
{{- end }}
{{- $pms := dict }}
{{- range $name, $p := $v.processManagers }}
{{- if or (ne $variant "sidecar") (eq ($p.handler | toString) $only) }}
{{- $_ := set $pms $name $p }}
{{- end }}
{{- end }}
{{- with $pms }}
{{- /* In mode sidecar the gateway and downstream never call a process manager (downstream only routes events to its commands log); its URL is the one its own pod uses. */}}
process_managers:
  {{- range $name, $p := . }}
  {{ $name | toJson }}:
    handler: {{ include "angzarr.url" (dict "root" $root "ref" $p.handler "local" (ne $variant "full") "what" (printf "process manager `%s`" $name)) | toJson }}
    domains: {{ $p.domains | toJson }}
    snapshot_every: {{ hasKey $p "snapshotEvery" | ternary $p.snapshotEvery 100 | int }}
  {{- end }}
{{- end }}
{{- end -}}

{{/* The ConfigMap a role reads: the shared one, or a sidecar's own. */}}
{{- define "angzarr.configName" -}}
{{- if .handler -}}
{{- include "angzarr.name" (dict "root" .root "suffix" (printf "config-%s" .handler)) -}}
{{- else -}}
{{- include "angzarr.name" (dict "root" .root "suffix" "config") -}}
{{- end -}}
{{- end -}}

{{- define "angzarr.sharedVariant" -}}
{{- ternary "full" "shared" (eq .Values.mode "roles") -}}
{{- end -}}

{{/*
A coordinator container. (dict "root" $ "role" gateway|command-handler|downstream "resources" R)
*/}}
{{- define "angzarr.coordinator" -}}
{{- $root := .root -}}
{{- $v := $root.Values -}}
- name: angzarr
  image: {{ include "angzarr.image" (dict "root" $root "image" $v.image) | quote }}
  imagePullPolicy: {{ $v.image.pullPolicy }}
  args: ["coordinator", {{ .role | quote }}, "--config", "/etc/angzarr/config/angzarr.yaml"]
  ports:
    - {name: admin, containerPort: {{ int $v.admin.port }}, protocol: TCP}
    {{- if eq .role "command-handler" }}
    - {name: owner, containerPort: {{ int $v.commandHandler.ownerPort }}, protocol: TCP}
    {{- end }}
    {{- if eq .role "gateway" }}
    - {name: grpc, containerPort: {{ int $v.gateway.grpcPort }}, protocol: TCP}
    {{- if $v.gateway.httpPort }}
    - {name: http, containerPort: {{ int $v.gateway.httpPort }}, protocol: TCP}
    {{- end }}
    {{- end }}
  env:
    # Announced to gateways as where this pod's partition owners listen.
    - name: POD_IP
      valueFrom:
        fieldRef: {fieldPath: status.podIP}
    {{- if $v.kafka.sasl.enabled }}
    - name: KAFKA_SASL_PASSWORD
      valueFrom:
        secretKeyRef: {name: {{ $v.kafka.sasl.passwordSecret.name | quote }}, key: {{ $v.kafka.sasl.passwordSecret.key | quote }}}
    {{- end }}
    {{- with $v.extraEnv }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  livenessProbe:
    httpGet: {path: /healthz, port: admin}
    {{- toYaml $v.probes.liveness | nindent 4 }}
  readinessProbe:
    httpGet: {path: /readyz, port: admin}
    {{- toYaml $v.probes.readiness | nindent 4 }}
  resources:
    {{- toYaml .resources | nindent 4 }}
  securityContext:
    {{- toYaml $v.securityContext | nindent 4 }}
  volumeMounts:
    - {name: config, mountPath: /etc/angzarr/config, readOnly: true}
    - {name: tmp, mountPath: /tmp}
    {{- if $v.kafka.tls.enabled }}
    - {name: kafka-tls, mountPath: /etc/angzarr/tls/kafka, readOnly: true}
    {{- end }}
    {{- if and (eq .role "gateway") $v.gateway.tls.enabled }}
    - {name: gateway-tls, mountPath: /etc/angzarr/tls/gateway, readOnly: true}
    {{- if $v.gateway.tls.clientCA.secretName }}
    - {name: gateway-client-ca, mountPath: /etc/angzarr/tls/gateway-client-ca, readOnly: true}
    {{- end }}
    {{- end }}
{{- end -}}

{{/* The volumes of a coordinator container. (dict "root" $ "role" R "config" CONFIGMAP) */}}
{{- define "angzarr.coordinatorVolumes" -}}
{{- $v := .root.Values -}}
- name: config
  configMap: {name: {{ .config }}}
- name: tmp
  emptyDir: {sizeLimit: {{ $v.commandHandler.tmpSize }}}
{{- if $v.kafka.tls.enabled }}
- name: kafka-tls
  secret: {secretName: {{ $v.kafka.tls.secretName | quote }}, defaultMode: 0440}
{{- end }}
{{- if and (eq .role "gateway") $v.gateway.tls.enabled }}
- name: gateway-tls
  secret: {secretName: {{ $v.gateway.tls.secretName | quote }}, defaultMode: 0440}
{{- if $v.gateway.tls.clientCA.secretName }}
- name: gateway-client-ca
  secret: {secretName: {{ $v.gateway.tls.clientCA.secretName | quote }}, defaultMode: 0440}
{{- end }}
{{- end }}
{{- end -}}

{{/* What every pod of the release shares. */}}
{{- define "angzarr.podCommon" -}}
serviceAccountName: {{ include "angzarr.serviceAccountName" . }}
automountServiceAccountToken: false
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* Scheduling of one workload (its values block). */}}
{{- define "angzarr.scheduling" -}}
{{- with .nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* A PodDisruptionBudget. (dict "root" $ "name" N "pdb" PDB "labels" (dict ...selector args)) */}}
{{- define "angzarr.pdb" -}}
{{- if .pdb.enabled }}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ .name }}
  labels:
    {{- include "angzarr.labels" .labels | nindent 4 }}
spec:
  {{- if hasKey .pdb "minAvailable" }}
  minAvailable: {{ .pdb.minAvailable | toJson }}
  {{- else }}
  maxUnavailable: {{ hasKey .pdb "maxUnavailable" | ternary .pdb.maxUnavailable 1 | toJson }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "angzarr.selectorLabels" .labels | nindent 6 }}
{{- end }}
{{- end -}}

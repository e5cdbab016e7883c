// OpenAPI v3 schemas of the ccts.io/v1alpha1 resources, as plain data: the one source of the CRDs.
// scripts/gen-crds.ts turns these into crds/*.yaml (`npm run gen:crds`); test/api/crd-drift.test.ts
// fails when crds/ is stale or when these schemas and the interfaces in types.ts disagree.
// Every property carries a description because `kubectl explain` shows it to cluster admins.
// No runtime imports: node's type stripping runs the generator on this file directly.

/** The subset of the Kubernetes JSONSchemaProps (apiextensions.k8s.io/v1) these schemas use. */
export interface JSONSchemaProps {
  type?: "object" | "array" | "string" | "integer" | "number" | "boolean";
  description?: string;
  properties?: Record<string, JSONSchemaProps>;
  required?: string[];
  items?: JSONSchemaProps;
  additionalProperties?: JSONSchemaProps;
  enum?: string[];
  format?: string;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  minimum?: number;
  default?: unknown;
  "x-kubernetes-preserve-unknown-fields"?: boolean;
  "x-kubernetes-list-type"?: "atomic" | "set" | "map";
  "x-kubernetes-list-map-keys"?: string[];
  "x-kubernetes-validations"?: { rule: string; message: string; fieldPath?: string; reason?: string }[];
}

export interface PrinterColumn {
  name: string;
  type: "string" | "integer" | "number" | "boolean" | "date";
  jsonPath: string;
  description: string;
  priority?: number;
}

/** What scripts/gen-crds.ts needs to write one CRD. */
export interface KindSchema {
  kind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  printerColumns: PrinterColumn[];
  schema: JSONSchemaProps;
}

const HEX2 = "[0-9A-Fa-f]{2}";
const HEX4 = "[0-9A-Fa-f]{4}";
/** 6-, 8- and 20-byte addresses in each notation src/api/mac.ts accepts (URL-encoding aside). */
const macAlternatives = [5, 7, 19].flatMap((n) => [
  `${HEX2}(?::${HEX2}){${n}}`,
  `${HEX2}(?:-${HEX2}){${n}}`,
  `${HEX4}(?:\\.${HEX4}){${(n + 1) / 2 - 1}}`,
  `[0-9A-Fa-f]{${(n + 1) * 2}}`,
]);
/** Anchored RE2 pattern for MAC fields; test/api/crd-schema.test.ts checks it against parseMac. */
export const MAC_PATTERN = `^(?:${macAlternatives.join("|")})$`;

/** CEL: a MAC reduced to lower-case hex digits, so notations of one address compare equal. */
const celMacHex = (expr: string) => `${expr}.lowerAscii().replace(':', '').replace('-', '').replace('.', '')`;

const mac = (description: string): JSONSchemaProps => ({
  type: "string",
  description: `${description} Notations: aa:bb:cc:dd:ee:ff, aa-bb-cc-dd-ee-ff, aabb.ccdd.eeff or aabbccddeeff, any case; 6, 8 or 20 bytes.`,
  pattern: MAC_PATTERN,
  maxLength: 59,
});

/**
 * A dotted quad without leading zeros: format ipv4 alone admits 010.020.000.011 (and format cidr
 * 010.96.0.0/016), which dnsmasq and cloud-init refuse.
 */
const IPV4_OCTET = "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])";
const ipv4 = (description: string): JSONSchemaProps => ({
  type: "string",
  format: "ipv4",
  pattern: `^${IPV4_OCTET}(\\.${IPV4_OCTET}){3}$`,
  description,
  maxLength: 15,
});
/** CEL: a dotted IPv4 (already checked by format ipv4) as a number, for ordering (no cel.bind in CRDs). */
const celIPv4Number = (f: string) =>
  `((int(${f}.split('.')[0]) * 256 + int(${f}.split('.')[1])) * 256 + int(${f}.split('.')[2])) * 256 + int(${f}.split('.')[3])`;
const str = (description: string, maxLength = 253): JSONSchemaProps => ({
  type: "string",
  description,
  maxLength,
});
const strings = (description: string, item: JSONSchemaProps, maxItems = 64): JSONSchemaProps => ({
  type: "array",
  description,
  items: item,
  maxItems,
});
const variables = (description: string): JSONSchemaProps => ({
  type: "object",
  description,
  "x-kubernetes-preserve-unknown-fields": true,
});

const conditions: JSONSchemaProps = {
  type: "array",
  description: "Latest observations of the object's state (Rendered, ...).",
  "x-kubernetes-list-type": "map",
  "x-kubernetes-list-map-keys": ["type"],
  maxItems: 16,
  items: {
    type: "object",
    description: "One aspect of the object's state, in the shape of metav1.Condition.",
    required: ["type", "status", "reason", "message", "lastTransitionTime"],
    properties: {
      type: str("Condition type in CamelCase (Rendered).", 316),
      status: { type: "string", description: "True, False or Unknown.", enum: ["True", "False", "Unknown"] },
      reason: str("Machine-readable reason in CamelCase (TemplateError, DuplicateMAC, ...).", 1024),
      message: str("Human-readable details.", 32768),
      lastTransitionTime: {
        type: "string",
        format: "date-time",
        description: "When the condition last changed status.",
      },
      observedGeneration: {
        type: "integer",
        minimum: 0,
        description: "metadata.generation the condition was set for.",
      },
    },
  },
};

const observedGeneration: JSONSchemaProps = {
  type: "integer",
  minimum: 0,
  description: "metadata.generation of the spec the controller last acted on.",
};

// The API server forbids anything but `type` on metadata (it validates metadata itself).
const metadata: JSONSchemaProps = { type: "object" };
const apiVersion = str("ccts.io/v1alpha1.", 64);
const kindField = (kind: string) => str(`${kind}.`, 64);

// --- templates from git (src/git/, src/k8s/git-sync.ts) ---
const gitSource: JSONSchemaProps = {
  type: "object",
  description:
    "Templates from a git repository, one template per file under path (output name: file name without .hbs). The controller fetches it every interval into the ConfigMap ccts-git-<ClusterDesc name>; on failure the last good templates stay in use. Excludes templates.",
  required: ["url"],
  properties: {
    url: {
      ...str(
        "Repository URL: https://, http://, ssh://, git:// or scp-like git@host:path. Never credentials in it: use secretRef.",
        2048,
      ),
      // No white space, spelt out: \s means less to Go's regexp (the API server) than to JavaScript.
      pattern: "^(https?://|ssh://|git://|[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:)[^\\t\\n\\v\\f\\r\\p{Z}]+$",
    },
    ref: {
      ...str("Branch, tag or full commit hash to fetch; default HEAD (the remote's default branch).", 255),
      pattern: "^[A-Za-z0-9._/][A-Za-z0-9._/-]*$",
    },
    path: {
      ...str("Folder in the repository holding the templates (clusters/lab); default the root.", 1024),
      pattern: "^[^\\x00\\\\:*?\\[]*$",
    },
    secretRef: {
      type: "object",
      description:
        "Secret (same namespace) with credentials: token (HTTPS password, username optional), username and password, bearerToken (HTTPS Authorization: Bearer), or ssh-privatekey and known_hosts.",
      required: ["name"],
      properties: { name: { ...str("Name of the Secret."), minLength: 1 } },
    },
    interval: {
      ...str("How often to fetch: seconds, minutes or hours (30s, 10m, 1h); default 10m.", 16),
      pattern: "^[0-9]+(s|m|h)$",
    },
  },
};

const gitStatus: JSONSchemaProps = {
  type: "object",
  description: "Templates from git (spec.git): what is in use and the last attempt.",
  properties: {
    commit: str("Commit the templates in use come from.", 64),
    lastFetchTime: {
      ...str("When the repository was last fetched (successfully or not).", 64),
      format: "date-time",
    },
    lastSuccessTime: {
      ...str("When templates were last fetched and checked successfully.", 64),
      format: "date-time",
    },
    lastError: str("Why the last attempt failed; absent after a success.", 4096),
  },
};
// --- end templates from git ---

/** The Age printer column every kind shows last, as kubectl does for built-in kinds. */
const AGE_COLUMN: PrinterColumn = {
  name: "Age",
  type: "date",
  jsonPath: ".metadata.creationTimestamp",
  description: "Time since creation.",
};

export const clusterDescSchema: KindSchema = {
  kind: "ClusterDesc",
  plural: "clusterdescs",
  singular: "clusterdesc",
  // `cd` and `cdesc`-like names elsewhere: none known; `cdesc` reads as what it is.
  shortNames: ["cdesc"],
  printerColumns: [
    {
      name: "Domain",
      type: "string",
      jsonPath: ".spec.network.domain",
      description: "DNS domain of the machines.",
    },
    {
      name: "Bootstrapper",
      type: "string",
      jsonPath: ".spec.network.bootstrapperIP",
      description: "IP of the bootstrapper.",
      priority: 1,
    },
    {
      name: "Machines",
      type: "integer",
      jsonPath: ".status.machines",
      description: "Machines in this cluster.",
    },
    AGE_COLUMN,
  ],
  schema: {
    type: "object",
    description:
      "ClusterDesc describes a bare-metal cluster: its provisioning network, Kubernetes settings, OS, and the templates that render each Machine's boot documents.",
    required: ["spec"],
    properties: {
      apiVersion,
      kind: kindField("ClusterDesc"),
      metadata,
      spec: {
        type: "object",
        description: "Desired state of the cluster.",
        required: ["network"],
        properties: {
          network: {
            type: "object",
            description: "The provisioning network the machines boot from.",
            required: ["bootstrapperIP", "subnet", "netmask", "domain"],
            properties: {
              bootstrapperIP: ipv4("IP of the bootstrapper (PXE, DHCP, DNS and this server)."),
              subnet: ipv4("Network address of the provisioning subnet."),
              netmask: ipv4("Netmask of the provisioning subnet (255.255.255.0)."),
              dhcpRange: {
                type: "object",
                description: "Addresses DHCP hands to machines without a fixed IP.",
                required: ["start", "end"],
                properties: {
                  start: ipv4("First address handed out to machines without a fixed IP."),
                  end: ipv4("Last address handed out to machines without a fixed IP."),
                },
                "x-kubernetes-validations": [
                  {
                    rule: `${celIPv4Number("self.start")} <= ${celIPv4Number("self.end")}`,
                    message: "dhcpRange.start must not be after dhcpRange.end",
                  },
                ],
              },
              routers: strings("Default gateways handed to machines.", ipv4("Router IP."), 8),
              broadcast: ipv4("Broadcast address of the provisioning subnet."),
              nameservers: strings("Name servers handed to machines.", ipv4("Name server IP."), 8),
              upstreamNameservers: strings(
                "Name servers the bootstrapper's DNS forwards to.",
                ipv4("Name server IP."),
                8,
              ),
              domain: { ...str("DNS domain of the machines (lab.example.org)."), minLength: 1 },
              dockerDomain: str("Name under which the bootstrapper's image registry is reached."),
              lease: str("DHCP lease time, dnsmasq notation (12h, infinite).", 32),
              pxe: { type: "boolean", description: "Whether the bootstrapper answers PXE." },
              ntp: { type: "boolean", description: "Whether DHCP hands out the bootstrapper as NTP server." },
            },
          },
          kubernetes: {
            type: "object",
            description: "Settings of the Kubernetes cluster the machines form.",
            properties: {
              serviceClusterIPRange: {
                type: "string",
                format: "cidr",
                pattern: `^${IPV4_OCTET}(\\.${IPV4_OCTET}){3}/(3[0-2]|[12]?[0-9])$`,
                description: "Service cluster IP range (CIDR, 10.96.0.0/16).",
              },
              clusterDNS: ipv4("Cluster DNS service IP."),
              masterIPs: strings("IPs the API server certificate is valid for.", ipv4("IP address.")),
              masterDNSNames: strings("DNS names the API server certificate is valid for.", str("DNS name.")),
              flannelBackend: str("Flannel backend type (vxlan, host-gw, ...).", 64),
            },
          },
          os: {
            type: "object",
            description: "Operating system installed on the machines.",
            properties: {
              name: str("Operating system name (flatcar, CoreOS, ubuntu, ...).", 64),
              channel: str("Release channel (stable, beta, ...).", 64),
              version: str("OS version to install.", 64),
              updates: {
                type: "object",
                description: "How machines apply OS updates.",
                properties: {
                  rebootStrategy: str("Reboot strategy after OS updates (etcd-lock, reboot, off).", 64),
                  windowStart: str("Start of the maintenance window (03:00).", 64),
                  windowLength: str("Length of the maintenance window (3h).", 64),
                },
              },
            },
          },
          serverURL: {
            ...str(
              "Base URL under which machines reach this server (default http://<bootstrapperIP>:8080).",
              2048,
            ),
            pattern: "^https?://",
          },
          sshAuthorizedKeys: strings(
            "SSH public keys authorized on every machine.",
            str("One public key in authorized_keys notation.", 16384),
            256,
          ),
          images: {
            type: "object",
            description: "Container images by role (hyperkube, pause, ...).",
            additionalProperties: str("Image reference (registry.k8s.io/pause:3.10).", 1024),
          },
          variables: variables("Free-form template variables; a Machine's variables override them."),
          pki: {
            type: "object",
            description:
              "The cluster CA and the per-Machine certificates the controller issues from it (templates read them as tls.ca, tls.cert, tls.key).",
            properties: {
              caSecretName: str(
                "Secret (type kubernetes.io/tls, keys tls.crt and tls.key) holding the cluster CA. Absent: the controller generates one into the Secret ccts-ca-<ClusterDesc name>.",
              ),
              certificateLifetime: {
                ...str(
                  "Lifetime of Machine certificates, as hours (8760h, the default) or minutes (90m). Renewed after two thirds of it.",
                  16,
                ),
                pattern: "^[0-9]+(h|m)$",
              },
            },
          },
          templates: {
            type: "array",
            description:
              "Templates to render, one per output document. Empty: the built-in set. An entry with output dnsmasq.conf replaces the built-in dnsmasq configuration of the ClusterDesc (not a Machine output); declared alone, the Machines keep the built-in set.",
            maxItems: 64,
            items: {
              type: "object",
              description:
                "One template: its output name and where its text comes from (exactly one source).",
              required: ["output"],
              properties: {
                output: {
                  ...str("Output name: the document this template renders (cloud-config, ipxe, ...).", 63),
                  pattern: "^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$",
                },
                configMapKeyRef: {
                  type: "object",
                  description: "Template text held in a ConfigMap key.",
                  required: ["name", "key"],
                  properties: {
                    name: str("ConfigMap name, in the namespace of the ClusterDesc."),
                    key: str("Key inside the ConfigMap."),
                  },
                },
                inline: str("Template text given inline.", 262144),
              },
              "x-kubernetes-validations": [
                {
                  rule: "has(self.configMapKeyRef) != has(self.inline)",
                  message: "a template takes its text from exactly one of configMapKeyRef and inline",
                },
              ],
            },
            "x-kubernetes-validations": [
              {
                rule: "self.all(t, self.exists_one(u, u.output == t.output))",
                message: "each template output name may appear only once",
              },
            ],
          },
          git: gitSource,
        },
        "x-kubernetes-validations": [
          {
            rule: "!has(self.git) || !has(self.templates) || size(self.templates) == 0",
            message: "spec.git and spec.templates exclude each other",
          },
        ],
      },
      status: {
        type: "object",
        description: "Observed state, written by the controller.",
        properties: {
          observedGeneration,
          conditions,
          machines: {
            type: "integer",
            minimum: 0,
            description: "Number of Machines that belong to this ClusterDesc.",
          },
          git: gitStatus,
        },
      },
    },
  },
};

export const machineSchema: KindSchema = {
  kind: "Machine",
  plural: "machines",
  singular: "machine",
  // Cluster API's machines.cluster.x-k8s.io owns `ma`; ours must not shadow it.
  shortNames: ["mach"],
  printerColumns: [
    { name: "MAC", type: "string", jsonPath: ".spec.mac", description: "MAC address of the boot interface." },
    { name: "Hostname", type: "string", jsonPath: ".spec.hostname", description: "Hostname." },
    { name: "Roles", type: "string", jsonPath: ".spec.roles", description: "Roles of the machine." },
    {
      name: "Rendered",
      type: "string",
      jsonPath: '.status.conditions[?(@.type=="Rendered")].status',
      description: "Whether the boot documents are rendered.",
    },
    {
      name: "IP",
      type: "string",
      jsonPath: ".spec.ip",
      description: "Fixed IP of the boot interface.",
      priority: 1,
    },
    {
      name: "ClusterDesc",
      type: "string",
      jsonPath: ".spec.clusterDesc",
      description: "ClusterDesc the machine belongs to.",
      priority: 1,
    },
    AGE_COLUMN,
  ],
  schema: {
    type: "object",
    description:
      "Machine is one bare-metal server, keyed by the MAC of its boot interface. The controller renders its boot documents (cloud-config, iPXE, ...) into a ConfigMap it owns.",
    required: ["spec"],
    properties: {
      apiVersion,
      kind: kindField("Machine"),
      metadata,
      spec: {
        type: "object",
        description: "Desired state of the machine.",
        required: ["clusterDesc", "mac"],
        properties: {
          clusterDesc: {
            ...str("Name of the ClusterDesc (same namespace) this machine belongs to."),
            minLength: 1,
          },
          mac: mac("MAC address of the boot interface: the key machines ask with."),
          interfaces: {
            type: "array",
            description: "Further interfaces; each MAC also finds this machine.",
            maxItems: 16,
            items: {
              type: "object",
              description: "A further network interface of the machine.",
              required: ["mac"],
              properties: {
                name: str("Interface name on the machine (eth1).", 15),
                mac: mac("MAC address of the interface."),
                ip: ipv4("Fixed IP of the interface."),
              },
            },
          },
          hostname: str("Hostname; default derived from the MAC (00-25-90-c0-f7-80).", 253),
          ip: ipv4("Fixed IP of the boot interface."),
          roles: {
            type: "array",
            description: "Roles: master, etcd, worker, ingress, or any other word templates understand.",
            default: ["worker"],
            "x-kubernetes-list-type": "set",
            maxItems: 16,
            items: {
              type: "string",
              description: "One role.",
              pattern: "^[a-z0-9][a-z0-9-]*$",
              maxLength: 63,
            },
          },
          flannelInterface: str("Interface flannel binds to.", 15),
          variables: variables("Free-form template variables, overriding the ClusterDesc's."),
        },
        "x-kubernetes-validations": [
          {
            // Compare hex digits only, so one address in two notations still counts as one.
            rule: `!has(self.interfaces) || self.interfaces.all(i, ${celMacHex("i.mac")} != ${celMacHex("self.mac")} && self.interfaces.exists_one(j, ${celMacHex("j.mac")} == ${celMacHex("i.mac")}))`,
            message: "interface MACs must differ from spec.mac and from each other",
            fieldPath: ".interfaces",
          },
        ],
      },
      status: {
        type: "object",
        description: "Observed state, written by the controller.",
        properties: {
          observedGeneration,
          conditions,
          configMap: str(
            "ConfigMap holding the rendered documents; its annotation ccts.io/content-hash tells which content.",
          ),
          outputs: strings("Names of the rendered outputs.", str("Output name.", 63)),
          secret: str(
            "Secret holding the outputs that contain private key material (never in the ConfigMap): its name, or namespace/name when it lives in the controller's documents namespace.",
          ),
          certificate: {
            type: "object",
            description: "The Machine's certificate, issued by the cluster CA.",
            properties: {
              secretName: str(
                "Secret (type kubernetes.io/tls) holding the certificate, its key and the CA certificate.",
              ),
              notAfter: { ...str("When the certificate expires.", 64), format: "date-time" },
              renewAfter: {
                ...str("When the controller renews it (two thirds of its lifetime).", 64),
                format: "date-time",
              },
            },
          },
        },
      },
    },
  },
};

export const kindSchemas: KindSchema[] = [clusterDescSchema, machineSchema];

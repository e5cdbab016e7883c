// Copies of the project's shared inputs (test/fixtures/shared/README.md says where from), so the
// tests do not depend on a folder beside the clone.
import { join } from "node:path";

export const SHARED_DIR = join(import.meta.dirname, "../fixtures/shared");
export const LEGACY_CLUSTER_DESC = join(SHARED_DIR, "legacy-cluster-desc.yml");
export const CLOUD_INIT_SCHEMA_DIR = join(SHARED_DIR, "cloud-init");

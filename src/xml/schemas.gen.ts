export const SCHEMA_FILES = {} as const;

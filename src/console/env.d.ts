// Vite's ambient types (CSS imports, import.meta.env) for the console's typecheck.
/// <reference types="vite/client" />

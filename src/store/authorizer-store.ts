// Authorizers created at run time, and the default authorizer. Memory now; the durable stores
// (SQLite, Redis) implement the same interface so runtime changes survive restarts.
import type { AuthorizerConfig } from '../config/schema.js';

export interface AuthorizerRecord extends AuthorizerConfig {
  creationDate: string;
  lastModifiedDate: string;
}

export interface AuthorizerStore {
  list(): AuthorizerRecord[];
  get(name: string): AuthorizerRecord | undefined;
  put(record: AuthorizerRecord): void;
  delete(name: string): boolean;
  getDefault(): string | undefined;
  setDefault(name: string | undefined): void;
}

export class MemoryAuthorizerStore implements AuthorizerStore {
  private readonly records = new Map<string, AuthorizerRecord>();
  private defaultName: string | undefined;

  list(): AuthorizerRecord[] {
    return [...this.records.values()].sort((a, b) => a.name.localeCompare(b.name));
  }
  get(name: string): AuthorizerRecord | undefined {
    return this.records.get(name);
  }
  put(record: AuthorizerRecord): void {
    this.records.set(record.name, record);
  }
  delete(name: string): boolean {
    if (this.defaultName === name) this.defaultName = undefined;
    return this.records.delete(name);
  }
  getDefault(): string | undefined {
    return this.defaultName;
  }
  setDefault(name: string | undefined): void {
    this.defaultName = name;
  }
}

// Rules created at run time, kept so they survive restarts. The store keeps the definition as
// the JSON the rules engine validated; the engine validates it again when it loads it.
export interface StoredRule {
  name: string;
  definition: Record<string, unknown>;
  createdAt: string;
  lastModifiedAt: string;
}

export interface RuleStore {
  list(): StoredRule[];
  get(name: string): StoredRule | undefined;
  put(rule: StoredRule): void;
  delete(name: string): boolean;
}

export class MemoryRuleStore implements RuleStore {
  private readonly rules = new Map<string, StoredRule>();
  list(): StoredRule[] {
    return [...this.rules.values()].sort((a, b) => a.name.localeCompare(b.name));
  }
  get(name: string): StoredRule | undefined {
    return this.rules.get(name);
  }
  put(rule: StoredRule): void {
    this.rules.set(rule.name, rule);
  }
  delete(name: string): boolean {
    return this.rules.delete(name);
  }
}

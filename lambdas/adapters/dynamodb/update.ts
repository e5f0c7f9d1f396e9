import type { Key } from './keys.ts';

/**
 * Builds an UpdateItem expression (and its condition) from named parts. Every attribute name is aliased,
 * so reserved words (`status`, `name`, `rows`) need no care, and setting `undefined` removes the attribute.
 */
export class Update {
  private readonly sets: string[] = [];
  private readonly adds: string[] = [];
  private readonly removes: string[] = [];
  private readonly conditions: string[] = [];
  readonly names: Record<string, string> = {};
  readonly values: Record<string, unknown> = {};
  private n = 0;

  /** The alias of an attribute path (`a.b` aliases each part). */
  name(path: string): string {
    return path
      .split('.')
      .map((part) => {
        const alias = `#${part.replace(/[^A-Za-z0-9_]/g, '_')}_${Object.keys(this.names).length}`;
        const existing = Object.entries(this.names).find(([, v]) => v === part)?.[0];
        if (existing) return existing;
        this.names[alias] = part;
        return alias;
      })
      .join('.');
  }
  value(v: unknown): string {
    const key = `:v${this.n++}`;
    this.values[key] = v;
    return key;
  }
  set(path: string, v: unknown): this {
    if (v === undefined) return this.remove(path);
    this.sets.push(`${this.name(path)} = ${this.value(v)}`);
    return this;
  }
  setRaw(expr: string): this {
    this.sets.push(expr);
    return this;
  }
  add(path: string, v: number | Set<string>): this {
    this.adds.push(`${this.name(path)} ${this.value(v)}`);
    return this;
  }
  remove(path: string): this {
    this.removes.push(this.name(path));
    return this;
  }
  /** A condition the write needs; all of them must hold. */
  when(cond: string): this {
    this.conditions.push(cond);
    return this;
  }
  /** `path = value`, as a condition. */
  equals(path: string, v: unknown): string {
    return `${this.name(path)} = ${this.value(v)}`;
  }
  /** `path IN (values…)`, as a condition. */
  inList(path: string, values: readonly unknown[]): string {
    return `${this.name(path)} IN (${values.map((v) => this.value(v)).join(', ')})`;
  }
  expression(): string {
    return [
      this.sets.length ? `SET ${this.sets.join(', ')}` : '',
      this.adds.length ? `ADD ${this.adds.join(', ')}` : '',
      this.removes.length ? `REMOVE ${this.removes.join(', ')}` : '',
    ]
      .filter(Boolean)
      .join(' ');
  }
  /** The UpdateItem input (also what a transaction's `Update` item takes). */
  params(table: string, key: Key) {
    return {
      TableName: table,
      Key: key,
      UpdateExpression: this.expression(),
      ...(this.conditions.length ? { ConditionExpression: this.conditions.join(' AND ') } : {}),
      ExpressionAttributeNames: this.names,
      ...(Object.keys(this.values).length ? { ExpressionAttributeValues: this.values } : {}),
    };
  }
}

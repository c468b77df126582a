// Interns the few names the engine keys state by (agents, actions, achievements) to small dense
// ids, so per-user entries hold an int instead of a string. Ids are local to one process; snapshots
// store the names.

export class NameTable {
  private readonly ids = new Map<string, number>()
  private readonly names: Array<string> = []

  get size(): number {
    return this.names.length
  }

  idOf(name: string): number {
    return this.ids.get(name) ?? -1
  }

  intern(name: string): number {
    let id = this.ids.get(name)
    if (id === undefined) {
      id = this.names.length
      this.names.push(name)
      this.ids.set(name, id)
    }
    return id
  }

  nameOf(id: number): string {
    const n = this.names[id]
    if (n === undefined) throw new RangeError(`NameTable: no name with id ${id}`)
    return n
  }
}

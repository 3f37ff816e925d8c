/**
 * Calls asked for while one group of them runs wait and go together in the next, in the order they
 * were asked: one statement and one commit for what arrives meanwhile instead of one each. A group
 * that fails is taken again call by call, and only a call that fails by itself is refused — one
 * call never decides another's fate (DESIGN §4; the inbox writer does the same for webhooks).
 */
export class GatheredCalls<Request, Result> {
  readonly #run: (requests: readonly Request[]) => Promise<readonly Result[]>;
  #waiting: { request: Request; resolve: (result: Result) => void; reject: (error: unknown) => void }[] = [];
  #busy = false;

  /** `run` answers a group's requests in their order, or fails as a whole. */
  constructor(run: (requests: readonly Request[]) => Promise<readonly Result[]>) {
    this.#run = run;
  }

  ask(request: Request): Promise<Result> {
    return new Promise<Result>((resolve, reject) => {
      this.#waiting.push({ request, resolve, reject });
      if (!this.#busy) void this.#drain();
    });
  }

  async #drain(): Promise<void> {
    this.#busy = true;
    while (this.#waiting.length > 0) {
      const group = this.#waiting.splice(0);
      try {
        const results = await this.#run(group.map((g) => g.request));
        for (const [i, g] of group.entries()) g.resolve(results[i]!);
      } catch (error) {
        if (group.length === 1) group[0]!.reject(error);
        else
          for (const g of group)
            await this.#run([g.request]).then(
              ([result]) => g.resolve(result!),
              (alone: unknown) => g.reject(alone),
            );
      }
    }
    this.#busy = false;
  }
}

// Prometheus's text exposition format (0.0.4), read line by line: what a scraper would accept.
// prom-client has no parser of its own; this is strict enough to catch a malformed line.

const name = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const labelPair = '([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\\\\n]|\\\\.)*)"';
const labels = `\\{(?:${labelPair.replace(/\((?!\?)/g, '(?:')},?)*\\}`;
// Go's ParseFloat, as Prometheus reads values: NaN and Inf in any case.
const value = '(?:[-+]?(?:\\d+(?:\\.\\d*)?|\\.\\d+)(?:[eE][-+]?\\d+)?|[Nn][Aa][Nn]|[-+]?[Ii][Nn][Ff])';
const sampleLine = new RegExp(`^(${name})(${labels})? (${value})(?: -?\\d+)?$`);
const helpLine = new RegExp(`^# HELP ${name} .*$`);
const typeLine = new RegExp(`^# TYPE ${name} (?:counter|gauge|histogram|summary|untyped)$`);

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Every sample of a scrape; throws at the first line that is not the format. */
export function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const [i, line] of text.split('\n').entries()) {
    if (line === '' || helpLine.test(line) || typeLine.test(line)) continue;
    const match = sampleLine.exec(line);
    if (!match) throw new Error(`line ${i + 1} is not Prometheus text format: ${line}`);
    const pairs = [...(match[2] ?? '').matchAll(new RegExp(labelPair, 'g'))].map(([, key, text]) => [key!, text!]);
    samples.push({ name: match[1]!, labels: Object.fromEntries(pairs), value: Number(match[3]) });
  }
  return samples;
}

/** The value of the one sample named `name` with (at least) these labels; undefined if none. */
export function valueOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([key, text]) => s.labels[key] === text));
  if (found.length > 1) throw new Error(`${found.length} samples of ${name} with ${JSON.stringify(labels)}: name more labels`);
  return found[0]?.value;
}

// Small parts every page uses: amounts in sats, a QR code (drawn here as SVG by uqr), a copy button,
// and a field with its message next to it.
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { encode } from 'uqr';

const satsFormat = new Intl.NumberFormat('en-US');

/** Millisatoshis (a decimal string from the API) as whole sats, rounded down, with separators. */
export const sats = (msat: string): string => satsFormat.format(BigInt(msat) / 1000n);

export const plural = (n: number, one: string, many: string): string => `${satsFormat.format(n)} ${n === 1 ? one : many}`;

/** A QR code of `text` as one SVG path: sharp at any size, no canvas, no inline style. */
export function Qr({ text, label, id }: { text: string; label: string; id?: string }) {
  const { data, size } = encode(text, { ecc: 'M', border: 2 });
  let d = '';
  data.forEach((row, y) => row.forEach((dark, x) => dark && (d += `M${x} ${y}h1v1h-1z`)));
  return (
    <svg id={id} class="qr" viewBox={`0 0 ${size} ${size}`} role="img" aria-label={label} shape-rendering="crispEdges">
      <rect width={size} height={size} fill="#fff" />
      <path d={d} fill="#000" />
    </svg>
  );
}

/** Copies `text`; says so for a moment (and to screen readers). */
export function CopyButton({ text, label }: { text: string; label: string }) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    await navigator.clipboard.writeText(text).catch(() => undefined);
    setCopied(true);
    setTimeout(() => setCopied(false), 1500);
  };
  return (
    <button type="button" class="secondary small" onClick={() => void copy()} aria-label={copied ? 'Copied' : label}>
      <span aria-hidden="true">{copied ? 'Copied' : 'Copy'}</span>
    </button>
  );
}

/** A value to copy: shown whole, selectable, with its copy button. */
export function Copyable({ text, label }: { text: string; label: string }) {
  return (
    <div class="copyable">
      <code title={label}>{text}</code>
      <CopyButton text={text} label={`Copy ${label.toLowerCase()}`} />
    </div>
  );
}

/** What a field may say of itself besides. */
interface InputAttributes {
  inputMode?: 'numeric' | 'url' | 'text';
  autoComplete?: 'off';
  autoCapitalize?: 'off';
  spellcheck?: boolean;
  placeholder?: string;
  maxLength?: number;
}

/**
 * A labelled text field, its hint (`<id>-hint`) above it and what is wrong with it (`<id>-error`,
 * announced) below, both tied to it for screen readers; `onValue` gets each edit.
 */
export function Field({
  id,
  label,
  hint,
  problem,
  value,
  onValue,
  ...input
}: { id: string; label: string; hint?: ComponentChildren; problem: string; value: string; onValue: (value: string) => void } & InputAttributes) {
  return (
    <>
      <label for={id}>{label}</label>
      {hint && (
        <p id={`${id}-hint`} class="muted hint">
          {hint}
        </p>
      )}
      <input
        {...input}
        id={id}
        value={value}
        aria-invalid={problem ? 'true' : undefined}
        aria-describedby={[hint && `${id}-hint`, problem && `${id}-error`].filter(Boolean).join(' ') || undefined}
        onInput={(e) => onValue(e.currentTarget.value)}
      />
      {problem && (
        <p id={`${id}-error`} class="field-error" role="alert">
          {problem}
        </p>
      )}
    </>
  );
}

export function Notice({ kind, children }: { kind: 'ok' | 'error' | 'info'; children: ComponentChildren }) {
  return (
    <div class={`notice ${kind}`} role={kind === 'error' ? 'alert' : 'status'}>
      {children}
    </div>
  );
}

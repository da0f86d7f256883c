"""The worked size table: a 5×5 input through 2×2 and 3×3 kernels, stride 1–2, padding 0–2, computed with the library."""

from convcalc import analyze, spec_from_strings


def size_table() -> str:
    lines = ["kernel  stride  padding  (5 + 2p − k) / s + 1  output  note"]
    for k in (2, 3):
        for s in (1, 2):
            for p in (0, 1, 2):
                spec = spec_from_strings(
                    [f"Conv2d(1, 1, kernel_size={k}, stride={s}, padding={p})"], (1, 1, 5, 5)
                )
                row = analyze(spec).rows[0]
                out = row.output_shape
                exact = (5 + 2 * p - k) / s + 1
                size = f"{out[2]}×{out[3]}" if out else "error"
                lines.append(
                    f"{k}×{k}     {s}       {p}        {exact:<20g}  {size:<6}  {'; '.join(row.notes)}".rstrip()
                )
    return "\n".join(lines)


if __name__ == "__main__":
    print(size_table())

"""bfloat16 linear layers whose weights oneDNN reorders once, not on every call.

On CPU, torch.nn.functional.linear with bfloat16 weights runs a oneDNN matmul on the plain
(out, in) weight, which oneDNN has to rearrange into its own blocked layout on every call;
for a decode step (a few rows times every weight of the model) that work is about as large as
the arithmetic. `pack_linears` reorders each weight once
(`torch.ops.mkldnn._reorder_linear_weight`, what torch's compiler does for frozen bfloat16 CPU
weights, in torch/_inductor/fx_passes/mkldnn_fusion.py) and computes with
`torch.ops.mkldnn._linear_pointwise`: faster decode steps (docs/benchmarks.md, Evaluation).
The results are bit-identical to `F.linear`'s for bias-free bfloat16 layers (tests check it);
for float32 torch uses MKL's sgemm, whose sums differ in the last bits from oneDNN's, so float32
layers are left as they are.

These ops are private to torch (pinned at 2.13 here): `packable` says whether this torch and CPU
have them, and `pack_linears` leaves the model alone where they do not.
"""

from __future__ import annotations

import torch


def packable(weight: torch.Tensor) -> bool:
    """Whether `weight` can be packed: a bfloat16 CPU tensor, and torch has oneDNN with bfloat16
    support on this CPU."""
    return (weight.dtype == torch.bfloat16 and weight.device.type == "cpu"
            and torch.backends.mkldnn.is_available()
            and all(hasattr(torch.ops.mkldnn, op) for op in
                    ("_reorder_linear_weight", "_linear_pointwise", "_is_mkldnn_bf16_supported"))
            and bool(torch.ops.mkldnn._is_mkldnn_bf16_supported()))


class PackedLinear(torch.nn.Module):
    """An inference-only copy of a bfloat16 `torch.nn.Linear` with its weight in oneDNN's
    layout. The packed tensor keeps the (out, in) shape but not the element order: read the
    weights from the original module, not from this one."""

    def __init__(self, linear: torch.nn.Linear):
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        packed = torch.ops.mkldnn._reorder_linear_weight(linear.weight.detach())
        # buffers, not parameters: nothing trains this module, and state_dict must not save a
        # layout other code would read as a plain weight
        self.register_buffer("packed_weight", packed, persistent=False)
        bias = None if linear.bias is None else linear.bias.detach()
        self.register_buffer("bias", bias, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ops.mkldnn._linear_pointwise(x, self.packed_weight, self.bias, "none", [],
                                                  "")

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, packed"


def pack_linears(model: torch.nn.Module) -> int:
    """Replace every packable `torch.nn.Linear` in `model` (in place) by a `PackedLinear`;
    returns how many were replaced (0 where `packable` is false)."""
    targets = [(name, module) for name, module in model.named_modules()
               if type(module) is torch.nn.Linear and packable(module.weight)]
    for name, module in targets:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, PackedLinear(module))
    return len(targets)

//! What a finding's words say beyond its detail and suggestion, chosen once
//! where findings are built: whether a range clips or is wide, and what a
//! roll-up of many places sums up. `report::compare` turns it into words and
//! decides nothing.

use super::{Cause, Detail, Finding, Kind};
use crate::analysis::Compute;
use crate::model::Granularity;

/// The choices a finding's words follow.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Wording {
    /// For a range finding: what its learned range does.
    pub range: Option<RangeVerdict>,
    /// For a finding of more than one place: what its words sum up.
    pub roll_up: Option<RollUp>,
}

/// What a learned (QAT) output range does against the calibrated one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RangeVerdict {
    /// Still tfmot's initial [-6, 6]: the quantizer never trained.
    Untrained,
    /// Much narrower than the calibrated range: values clip.
    Clipping,
    /// Much wider: resolution is lost.
    Wide,
}

/// What the words of a finding of many places sum up.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum RollUp {
    /// Every place's range is still tfmot's initial [-6, 6].
    UntrainedRanges,
    /// Every place's range is wider than the calibrated one, from `lo` to
    /// `hi` times.
    WideRanges {
        /// The smallest width ratio.
        lo: f32,
        /// The largest width ratio.
        hi: f32,
    },
    /// Every place's range is narrower, from `lo` to `hi` times: values
    /// clip.
    ClippingRanges {
        /// The smallest width ratio.
        lo: f32,
        /// The largest width ratio.
        hi: f32,
    },
    /// QAT quantized the weights per-tensor where PTQ quantized them
    /// per-channel.
    QatPerTensorWeights,
    /// PTQ quantized the weights per-tensor where QAT quantized them
    /// per-channel.
    PtqPerTensorWeights,
    /// Float regions, and how many of their layers answer each cause, in the
    /// finding's order of causes.
    FloatRegions {
        /// Each cause with its number of layers.
        causes: Vec<(Cause, usize)>,
    },
    /// QAT computes every place at another integer width than PTQ.
    Widths {
        /// PTQ's width.
        ptq: Compute,
        /// QAT's width.
        qat: Compute,
    },
    /// Any other finding of many places: the first place's words and the
    /// number of places.
    Places,
}

/// Choose the wording of every finding (after its places are rolled up).
pub(crate) fn choose(findings: &mut [Finding]) {
    for f in findings {
        f.wording = wording(f);
    }
}

/// The wording of `f`.
pub(crate) fn wording(f: &Finding) -> Wording {
    Wording {
        range: range(f),
        roll_up: (f.places.len() > 1).then(|| roll_up(f)),
    }
}

fn range(f: &Finding) -> Option<RangeVerdict> {
    match &f.detail {
        Detail::Range { initial: true, .. } => Some(RangeVerdict::Untrained),
        Detail::Range { .. } if f.kind == Kind::RangeClipping => Some(RangeVerdict::Clipping),
        Detail::Range { .. } => Some(RangeVerdict::Wide),
        _ => None,
    }
}

/// The smallest and largest width ratio of the places (infinity and zero
/// when none has one).
fn ratio_span(f: &Finding) -> (f32, f32) {
    f.places
        .iter()
        .filter_map(|p| p.ratio)
        .fold((f32::INFINITY, 0.0f32), |(lo, hi), r| {
            (lo.min(r), hi.max(r))
        })
}

fn roll_up(f: &Finding) -> RollUp {
    match f.kind {
        Kind::RangeUntrained => RollUp::UntrainedRanges,
        Kind::RangeWide => {
            let (lo, hi) = ratio_span(f);
            RollUp::WideRanges { lo, hi }
        }
        Kind::RangeClipping => {
            let (lo, hi) = ratio_span(f);
            RollUp::ClippingRanges { lo, hi }
        }
        Kind::GranularityMismatch => match &f.detail {
            Detail::Granularity {
                qat: Granularity::PerTensor,
                ..
            } => RollUp::QatPerTensorWeights,
            _ => RollUp::PtqPerTensorWeights,
        },
        Kind::AddQuantizer if !f.causes.is_empty() => RollUp::FloatRegions {
            causes: f
                .causes
                .iter()
                .map(|&cause| {
                    let layers = f.culprits.iter().filter(|c| Cause::of(c) == cause).count();
                    (cause, layers)
                })
                .collect(),
        },
        Kind::WidthMismatch => match &f.detail {
            Detail::Width { ptq, qat } => RollUp::Widths {
                ptq: *ptq,
                qat: *qat,
            },
            _ => RollUp::Places,
        },
        _ => RollUp::Places,
    }
}

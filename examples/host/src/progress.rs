//! Progress bars for snapshot collection (indicatif), one line per kind.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use directory_core::{CollectOptions, Progress, ResourceKind};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// One progress line per resource kind, fed by [`CollectOptions`]' callback.
#[derive(Clone)]
pub struct FetchBars {
    multi: MultiProgress,
    bars: Arc<Mutex<HashMap<ResourceKind, ProgressBar>>>,
    label: String,
}

impl FetchBars {
    /// Bars labelled with `label` (e.g. the provider's name). When stderr is
    /// not a terminal, indicatif hides the bars and [`FetchBars::finish`]
    /// prints one summary line per kind instead.
    pub fn new(label: impl Into<String>) -> Self {
        Self {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(10)),
            bars: Arc::new(Mutex::new(HashMap::new())),
            label: label.into(),
        }
    }

    /// Collect options whose progress callback drives these bars.
    pub fn options(&self) -> CollectOptions {
        let this = self.clone();
        CollectOptions::default().with_progress(move |p| this.update(p))
    }

    fn update(&self, p: &Progress) {
        let mut bars = self.bars.lock().unwrap_or_else(|e| e.into_inner());
        let bar = bars.entry(p.kind).or_insert_with(|| {
            let bar = self.multi.add(ProgressBar::new_spinner());
            bar.set_style(
                ProgressStyle::with_template("{prefix:>28} {spinner} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.set_prefix(format!("{} {}", self.label, p.kind));
            bar
        });
        bar.set_message(describe(p));
        bar.tick();
        if p.finished {
            bar.finish_with_message(describe(p));
        }
    }

    /// Ends all bars and returns one summary line per kind, in a fixed order.
    pub fn finish(&self) -> Vec<String> {
        let bars = self.bars.lock().unwrap_or_else(|e| e.into_inner());
        let order = [
            ResourceKind::Users,
            ResourceKind::Groups,
            ResourceKind::Memberships,
            ResourceKind::AppAssignments,
        ];
        order
            .iter()
            .filter_map(|k| bars.get(k).map(|b| (k, b)))
            .map(|(k, b)| {
                b.finish();
                format!("{} {k}: {}", self.label, b.message())
            })
            .collect()
    }
}

fn describe(p: &Progress) -> String {
    let mut s = format!("{} items in {} pages", p.items, p.pages);
    if let Some((done, total)) = p.groups {
        s.push_str(&format!(" ({done}/{total} groups)"));
    }
    if p.finished {
        s.push_str(", done");
    }
    s
}

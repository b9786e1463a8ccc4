//! The plan/apply engine: builds the dependency graph, refreshes and diffs into a [`Plan`], and
//! executes plans with bounded parallelism while recording state as it goes.
//!
//! It reaches the world only through the `Provider` and `Backend` traits and the saved-plan
//! files whose format it owns: it knows no cloud, no file format beyond its plans and what
//! `matihnet-state` gives it, and never prints (it reports [`Event`]s).

pub mod apply;
mod diff;
pub mod events;
pub mod graph;
pub mod moves;
pub mod plan;
pub mod plan_file;

pub use apply::{ApplyError, ApplyOptions, ApplyOutcome, Executor, OpFailure};
pub use events::{Event, Observer, OpKind, Silent};
pub use graph::{CycleError, Graph};
pub use moves::Move;
pub use plan::{
    check_fresh, import_now, plan, plan_recorded, validate, Action, Drift, OutputSpec, Plan,
    PlanError, PlanInput, PlanOptions, ResourceChange, StalePlan, Summary, PLAN_FORMAT_VERSION,
};
pub use plan_file::PlanFileError;

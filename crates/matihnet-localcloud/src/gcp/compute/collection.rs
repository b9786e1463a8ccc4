//! The one handler behind every Compute collection: get, list, insert and delete, and the
//! operation-backed update that patch-like verbs use.
//!
//! A collection module describes its records to [`Collection`]: where they live (global or
//! regional), how they render, what an insert must carry, and what a delete or a finishing
//! operation must check. The order of checks is the same for every collection, as GCP's is:
//! the request body alone, then (under the lock) a retried `requestId`, references to other
//! resources, a duplicate name, and last the record itself.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, RawQuery, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, MethodRouter};
use axum::Router;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::operations::{self, Effect, Kind, NewOperation, OperationError, Resource};
use super::{list_body, API};
use crate::core::clock::now_ms;
use crate::core::http::Query;
use crate::gcp::wire::{ok, parse_body, ApiError, ApiResult};
use crate::gcp::{Cloud, Held, World};

/// Where a collection's records live in the URL space.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Scope {
    /// `projects/{project}/global/...`
    Global,
    /// `projects/{project}/regions/{region}/...`
    Regional,
}

/// The path parameters of a collection's routes: `{project}`, `{region}` for regional
/// collections, `{name}` for one record.
#[derive(Debug, Deserialize)]
pub(super) struct Place {
    pub project: String,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

impl Place {
    /// The record's name from the path; routes without one never reach a handler that asks.
    pub fn name(&self) -> Result<&str, ApiError> {
        self.name
            .as_deref()
            .ok_or_else(|| ApiError::not_found(&scope_path(&self.project, self.region.as_deref())))
    }

    pub fn key(&self, name: &str) -> String {
        record_key(&self.project, self.region.as_deref(), name)
    }

    /// `projects/p/global/networks/x`, the form of a resource in messages.
    pub fn path<C: Collection>(&self, name: &str) -> String {
        record_path(&self.project, self.region.as_deref(), C::PLURAL, name)
    }
}

/// `project/name` or `project/region/name`: a record's key in its map.
pub(super) fn record_key(project: &str, region: Option<&str>, name: &str) -> String {
    match region {
        None => format!("{project}/{name}"),
        Some(region) => format!("{project}/{region}/{name}"),
    }
}

fn scope_path(project: &str, region: Option<&str>) -> String {
    match region {
        None => format!("projects/{project}/global"),
        Some(region) => format!("projects/{project}/regions/{region}"),
    }
}

pub(super) fn record_path(project: &str, region: Option<&str>, plural: &str, name: &str) -> String {
    format!("{}/{plural}/{name}", scope_path(project, region))
}

/// What every Compute record has: where it lives, its name, its id and when it was created.
/// Records flatten it into their own fields, so a snapshot holds them as it always did.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Head {
    pub project: String,
    /// `None` for global records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    pub name: String,
    pub id: u64,
    pub created_ms: u64,
}

impl Head {
    /// The head of a record created now at `place`; takes the next id from the world.
    pub fn new(world: &mut World, place: &Place, name: String) -> Head {
        Head {
            project: place.project.clone(),
            region: place.region.clone(),
            name,
            id: world.new_id(),
            created_ms: now_ms(),
        }
    }

    pub fn key(&self) -> String {
        record_key(&self.project, self.region.as_deref(), &self.name)
    }

    /// The region of a regional record (empty for a global one).
    pub fn region(&self) -> &str {
        self.region.as_deref().unwrap_or_default()
    }

    /// `projects/p/regions/r/subnetworks/s` for a record of collection `C`.
    pub fn path<C: Collection>(&self) -> String {
        record_path(&self.project, self.region.as_deref(), C::PLURAL, &self.name)
    }
}

/// Implements the part of [`Collection`] that only says where a record type is kept: its map
/// in the world and its [`Resource`] variant (the record keeps its [`Head`] in `head`).
macro_rules! kept_in {
    ($field:ident, $variant:ident) => {
        fn records(world: &$crate::gcp::World) -> &std::collections::BTreeMap<String, Self> {
            &world.$field
        }

        fn records_mut(
            world: &mut $crate::gcp::World,
        ) -> &mut std::collections::BTreeMap<String, Self> {
            &mut world.$field
        }

        fn into_resource(self) -> $crate::gcp::compute::operations::Resource {
            $crate::gcp::compute::operations::Resource::$variant(self)
        }

        fn from_resource(resource: &$crate::gcp::compute::operations::Resource) -> Option<&Self> {
            match resource {
                $crate::gcp::compute::operations::Resource::$variant(r) => Some(r),
                _ => None,
            }
        }

        fn head(&self) -> &$crate::gcp::compute::collection::Head {
            &self.head
        }
    };
}
pub(super) use kept_in;

/// One Compute collection, as the generic handler needs to know it.
pub(super) trait Collection: Clone + Send + Sync + Sized + 'static {
    /// The path segment and the plural in URLs: `networks`.
    const PLURAL: &'static str;
    /// The list's `kind`: `compute#networkList`.
    const LIST_KIND: &'static str;
    const SCOPE: Scope;
    /// How a delete of this collection is recorded in an operation.
    const KIND: Kind;
    /// What an insert's body yields before the world is consulted.
    type Draft;

    // Written by `kept_in!`.
    fn records(world: &World) -> &BTreeMap<String, Self>;
    fn records_mut(world: &mut World) -> &mut BTreeMap<String, Self>;
    fn into_resource(self) -> Resource;
    fn from_resource(resource: &Resource) -> Option<&Self>;
    fn head(&self) -> &Head;

    fn render(&self, world: &World) -> Value;

    /// Validates what the body alone decides; returns the name and the draft.
    fn prepare(body: &Map<String, Value>, place: &Place)
        -> Result<(String, Self::Draft), ApiError>;

    /// Checks the resources the draft refers to, before the name is checked for duplicates.
    fn check_references(_world: &World, _draft: &Self::Draft) -> Result<(), ApiError> {
        Ok(())
    }

    /// The record to insert; takes its head (and so its id) from the world with [`Head::new`],
    /// and may consult the world.
    fn build(
        world: &mut World,
        place: &Place,
        name: String,
        draft: Self::Draft,
        body: &Map<String, Value>,
    ) -> Result<Self, ApiError>;

    /// Refuses a delete that GCP refuses at once (a network still in use).
    fn check_delete(_world: &World, _place: &Place, _name: &str) -> Result<(), ApiError> {
        Ok(())
    }

    /// Checks, when an insert's operation finishes, what another operation may have changed.
    fn check_insert_finished(_world: &World, _record: &Self) -> Result<(), OperationError> {
        Ok(())
    }

    /// The same for an update.
    fn check_update_finished(_world: &World, _record: &Self) -> Result<(), OperationError> {
        Ok(())
    }

    /// The same for a delete, before the record goes.
    fn check_delete_finished(_world: &World, _key: &str) -> Result<(), OperationError> {
        Ok(())
    }

    /// What GCP creates along with a record (an auto-mode network's subnetworks).
    fn after_insert(_world: &mut World, _record: &Self) {}

    /// What GCP removes along with a record (an auto-mode network's subnetworks).
    fn after_delete(_world: &mut World, _key: &str) {}

    /// More methods on one record's path (`patch`).
    fn item_methods(item: MethodRouter<Arc<Cloud>>) -> MethodRouter<Arc<Cloud>> {
        item
    }

    /// Routes below one record's path (`.../setLabels`).
    fn custom_verbs(_item_path: &str) -> Router<Arc<Cloud>> {
        Router::new()
    }
}

/// What every Compute write carries: the path parameters, the query (for `requestId`) and the
/// JSON body. Axum's own rejections (a path that does not parse, a body over the limit) come
/// first, then Google's answer to a body that is not a JSON object.
pub(super) struct WriteRequest {
    pub place: Place,
    pub query: Query,
    pub body: Map<String, Value>,
}

impl<S: Send + Sync> FromRequest<S> for WriteRequest {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let Path(place) = Path::<Place>::from_request_parts(&mut parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let query = Query::parse(parts.uri.query());
        let bytes = Bytes::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(IntoResponse::into_response)?;
        let body = parse_body(&bytes).map_err(IntoResponse::into_response)?;
        Ok(WriteRequest { place, query, body })
    }
}

/// The collection's list and item routes, and its own verbs.
pub(super) fn routes<C: Collection>() -> Router<Arc<Cloud>> {
    let base = match C::SCOPE {
        Scope::Global => format!("/compute/v1/projects/{{project}}/global/{}", C::PLURAL),
        Scope::Regional => format!(
            "/compute/v1/projects/{{project}}/regions/{{region}}/{}",
            C::PLURAL
        ),
    };
    let item = format!("{base}/{{name}}");
    Router::new()
        .route(&base, get(list::<C>).post(insert::<C>))
        .route(
            &item,
            C::item_methods(get(get_one::<C>).delete(delete::<C>)),
        )
        .merge(C::custom_verbs(&item))
}

/// The record at `place`, or GCP's 404.
pub(super) fn find<'w, C: Collection>(
    world: &'w World,
    place: &Place,
    name: &str,
) -> Result<&'w C, ApiError> {
    C::records(world)
        .get(&place.key(name))
        .ok_or_else(|| ApiError::not_found(&place.path::<C>(name)))
}

/// The records that operations still running will insert or update.
pub(super) fn pending<C: Collection>(world: &World) -> impl Iterator<Item = (&C, bool)> {
    operations::pending_effects(world).filter_map(|e| match e {
        Effect::Insert(r) => C::from_resource(r).map(|c| (c, true)),
        Effect::Update(r) => C::from_resource(r).map(|c| (c, false)),
        Effect::Delete(..) => None,
    })
}

async fn get_one<C: Collection>(
    State(cloud): State<Arc<Cloud>>,
    Path(place): Path<Place>,
) -> ApiResult {
    let held = cloud.store.settled();
    let record = find::<C>(&held.world, &place, place.name()?)?;
    Ok(ok(record.render(&held.world)))
}

async fn list<C: Collection>(
    State(cloud): State<Arc<Cloud>>,
    Path(place): Path<Place>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    let held = cloud.store.settled();
    let items = C::records(&held.world)
        .values()
        .filter(|c| c.head().project == place.project && c.head().region == place.region)
        .map(|c| c.render(&held.world))
        .collect();
    list_body(
        C::LIST_KIND,
        format!(
            "{API}/{}/{}",
            scope_path(&place.project, place.region.as_deref()),
            C::PLURAL
        ),
        items,
        &Query::parse(raw.as_deref()),
    )
}

async fn insert<C: Collection>(State(cloud): State<Arc<Cloud>>, write: WriteRequest) -> ApiResult {
    let WriteRequest { place, query, body } = write;
    let (name, draft) = C::prepare(&body, &place)?;
    let mut held = cloud.store.settled();
    if let Some(replay) = operations::replay_request(&held, &place.project, &query) {
        return Ok(replay);
    }
    C::check_references(&held.world, &draft)?;
    let key = place.key(&name);
    // An insert still running holds the name too: a second one would fail when it finished.
    let pending_insert =
        pending::<C>(&held.world).any(|(c, insert)| insert && c.head().key() == key);
    if C::records(&held.world).contains_key(&key) || pending_insert {
        return Err(ApiError::already_exists(&place.path::<C>(&name)));
    }
    let record = C::build(&mut held.world, &place, name.clone(), draft, &body)?;
    let id = record.head().id;
    Ok(start::<C>(
        &mut held,
        &query,
        &place,
        &name,
        "insert",
        id,
        Effect::Insert(record.into_resource()),
    ))
}

async fn delete<C: Collection>(
    State(cloud): State<Arc<Cloud>>,
    Path(place): Path<Place>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    let query = Query::parse(raw.as_deref());
    let name = place.name()?;
    let mut held = cloud.store.settled();
    if let Some(replay) = operations::replay_request(&held, &place.project, &query) {
        return Ok(replay);
    }
    let id = find::<C>(&held.world, &place, name)?.head().id;
    C::check_delete(&held.world, &place, name)?;
    Ok(start::<C>(
        &mut held,
        &query,
        &place,
        name,
        "delete",
        id,
        Effect::Delete(C::KIND, place.key(name)),
    ))
}

/// A write that changes one record through an operation (`patch`, `setPrivateIpGoogleAccess`):
/// `change` gets the current record and returns the next one, or refuses.
pub(super) fn update<C: Collection>(
    cloud: &Cloud,
    place: &Place,
    query: &Query,
    operation_type: &str,
    change: impl FnOnce(&World, C) -> Result<C, ApiError>,
) -> ApiResult {
    let name = place.name()?;
    let mut held = cloud.store.settled();
    if let Some(replay) = operations::replay_request(&held, &place.project, query) {
        return Ok(replay);
    }
    let current = find::<C>(&held.world, place, name)?.clone();
    let next = change(&held.world, current)?;
    let id = next.head().id;
    Ok(start::<C>(
        &mut held,
        query,
        place,
        name,
        operation_type,
        id,
        Effect::Update(next.into_resource()),
    ))
}

fn start<C: Collection>(
    held: &mut Held,
    query: &Query,
    place: &Place,
    name: &str,
    operation_type: &str,
    target_id: u64,
    effect: Effect,
) -> axum::response::Response {
    operations::start(
        held,
        query,
        NewOperation {
            project: &place.project,
            region: place.region.as_deref(),
            operation_type,
            target_link: format!("{API}/{}", place.path::<C>(name)),
            target_id,
            effect,
        },
    )
}

/// Which write a finished operation applies.
#[derive(Debug, Clone, Copy)]
pub(super) enum Finished {
    Insert,
    Update,
}

/// Applies a finished insert or update.
pub(super) fn finish_write<C: Collection>(
    world: &mut World,
    record: C,
    write: Finished,
) -> Result<(), OperationError> {
    match write {
        Finished::Insert => C::check_insert_finished(world, &record)?,
        Finished::Update => C::check_update_finished(world, &record)?,
    }
    if let Finished::Insert = write {
        C::after_insert(world, &record);
    }
    C::records_mut(world).insert(record.head().key(), record);
    Ok(())
}

/// Applies a finished delete; the record may have gone meanwhile.
pub(super) fn finish_delete<C: Collection>(
    world: &mut World,
    key: &str,
) -> Result<(), OperationError> {
    C::check_delete_finished(world, key)?;
    match C::records_mut(world).remove(key) {
        Some(_) => {
            C::after_delete(world, key);
            Ok(())
        }
        None => Err(OperationError::missing(key)),
    }
}

//! Pacing a provider's calls ahead of its cloud's rate limits: one token bucket per metered API
//! (Route53, EC2's mutating actions, ARM writes, ...) with the limits the clouds document as
//! defaults, overridable in the environment file (`[rate_limits]`), and slowed for that API
//! alone when the cloud throttles anyway (another tool spending the same account's budget).
//!
//! A caller that finds its bucket empty waits for the token it reserved instead of sending a
//! request the cloud would refuse: a refused request costs a round trip and a backoff, and at
//! Route53's five requests a second an apply that learns the limit by being throttled takes
//! several times longer than one that keeps to it.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// One API's rate: `per_second` tokens come back every second, up to `burst` held at once.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Limit {
    pub per_second: f64,
    pub burst: f64,
}

// Rates are checked to be positive numbers where they are read, never NaN, so equality is total.
impl Eq for Limit {}

impl Limit {
    pub const fn new(per_second: f64, burst: f64) -> Limit {
        Limit { per_second, burst }
    }
}

/// A metered API a provider knows, with the limit its cloud documents and where.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DocumentedLimit {
    /// The bucket's name in `[rate_limits]` (`route53`, `arm-writes`).
    pub api: &'static str,
    /// `None`: the cloud meters it but publishes no number, so it goes unpaced unless the file
    /// gives a rate.
    pub limit: Option<Limit>,
    /// Which requests draw from it.
    pub covers: &'static str,
    pub source: &'static str,
}

const AWS: &[DocumentedLimit] = &[
    DocumentedLimit {
        api: "route53",
        limit: Some(Limit::new(5.0, 5.0)),
        covers: "every Route53 API request of the account",
        source: "https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/DNSLimitations.html#limits-api-requests",
    },
    DocumentedLimit {
        api: "ec2-mutating",
        limit: Some(Limit::new(5.0, 200.0)),
        covers: "EC2 Create*, Delete*, Modify*, Associate*, ... actions",
        source: "https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html",
    },
    DocumentedLimit {
        api: "ec2-non-mutating",
        limit: Some(Limit::new(20.0, 100.0)),
        covers: "EC2 Describe* and other read actions",
        source: "https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html",
    },
    DocumentedLimit {
        api: "elbv2-non-mutating",
        limit: Some(Limit::new(10.0, 40.0)),
        covers: "ELBv2 Describe* actions",
        source: "https://docs.aws.amazon.com/elasticloadbalancing/latest/userguide/elb-api-throttling.html",
    },
    DocumentedLimit {
        api: "elbv2-mutating",
        limit: None,
        covers: "ELBv2 Create*, Modify*, Delete*, ... actions (buckets per action, numbers not published in the page)",
        source: "https://docs.aws.amazon.com/elasticloadbalancing/latest/userguide/elb-api-throttling.html",
    },
];

// ARM meters each subscription per region with three buckets; matihnet works in one region.
const AZURE: &[DocumentedLimit] = &[
    DocumentedLimit {
        api: "arm-reads",
        limit: Some(Limit::new(25.0, 250.0)),
        covers: "ARM GET requests, polls of long-running operations included",
        source: "https://learn.microsoft.com/azure/azure-resource-manager/management/request-limits-and-throttling",
    },
    DocumentedLimit {
        api: "arm-writes",
        limit: Some(Limit::new(10.0, 200.0)),
        covers: "ARM PUT, PATCH and POST requests",
        source: "https://learn.microsoft.com/azure/azure-resource-manager/management/request-limits-and-throttling",
    },
    DocumentedLimit {
        api: "arm-deletes",
        limit: Some(Limit::new(10.0, 200.0)),
        covers: "ARM DELETE requests",
        source: "https://learn.microsoft.com/azure/azure-resource-manager/management/request-limits-and-throttling",
    },
];

// GCP meters per project per minute; a per-minute quota paces as its sixtieth per second with
// the whole minute's worth as the burst, which never sends more in any minute than the quota.
const GCP: &[DocumentedLimit] = &[
    DocumentedLimit {
        api: "compute-writes",
        limit: Some(Limit::new(1500.0 / 60.0, 1500.0)),
        covers: "Compute Engine mutating methods (the `default` quota group, 1,500 per minute)",
        source: "https://cloud.google.com/compute/api-quota",
    },
    DocumentedLimit {
        api: "compute-reads",
        limit: Some(Limit::new(1500.0 / 60.0, 1500.0)),
        covers: "Compute Engine get and list methods (1,500 per minute each group)",
        source: "https://cloud.google.com/compute/api-quota",
    },
    DocumentedLimit {
        api: "compute-operations",
        limit: Some(Limit::new(1500.0 / 60.0, 1500.0)),
        covers: "Compute Engine operation polls (1,500 per minute)",
        source: "https://cloud.google.com/compute/api-quota",
    },
    DocumentedLimit {
        api: "dns",
        limit: None,
        covers: "Cloud DNS API requests (a per-minute quota whose default the page leaves to the console)",
        source: "https://cloud.google.com/dns/quotas",
    },
];

/// The limits a provider paces by default, by provider name (`aws`, `azure`, `gcp`).
pub fn documented(provider: &str) -> &'static [DocumentedLimit] {
    match provider {
        "aws" => AWS,
        "azure" => AZURE,
        "gcp" => GCP,
        _ => &[],
    }
}

/// `[rate_limits]` as written: a rate per API, `None` to send that API unpaced.
pub type Overrides = BTreeMap<String, Option<Limit>>;

/// Which limits apply when the file names none: the documented ones for a real cloud, none
/// for an emulator on this machine, which enforces no limits unless asked to (its `rate_limit`
/// fault) and where a rehearsal should go as fast as it can.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Defaults {
    Documented,
    Unpaced,
}

impl Defaults {
    /// The defaults for a provider reaching `endpoint` (`None`: the cloud's public endpoints),
    /// unless `MATIHNET_RATE_LIMITS` (`documented` or `off`) chose them.
    pub fn choose(endpoint: Option<&str>, chosen: Option<&str>) -> Result<Defaults, String> {
        match chosen {
            Some("documented") => Ok(Defaults::Documented),
            Some("off") => Ok(Defaults::Unpaced),
            Some(other) => Err(format!(
                "MATIHNET_RATE_LIMITS is `{other}`; set it to `documented` (pace to the clouds' documented limits) or `off` (never pace)"
            )),
            None if endpoint.is_some_and(crate::endpoint::is_loopback) => Ok(Defaults::Unpaced),
            None => Ok(Defaults::Documented),
        }
    }
}

/// The limits to pace by: the defaults of `provider` with `overrides` applied. An override of
/// an API that is not documented adds it.
pub fn effective(
    provider: &str,
    defaults: Defaults,
    overrides: &Overrides,
) -> BTreeMap<String, Limit> {
    let mut out: BTreeMap<String, Limit> = match defaults {
        Defaults::Documented => documented(provider)
            .iter()
            .filter_map(|d| Some((d.api.to_string(), d.limit?)))
            .collect(),
        Defaults::Unpaced => BTreeMap::new(),
    };
    for (api, limit) in overrides {
        match limit {
            Some(l) => out.insert(api.clone(), *l),
            None => out.remove(api),
        };
    }
    out
}

/// How far a throttled API's rate falls, and the least it falls to: the same multiplicative
/// decrease the AWS SDKs' adaptive mode uses, so two throttles halve and then quarter it.
const BACKOFF: f64 = 0.5;
const FLOOR_SHARE: f64 = 0.05;
/// How fast a lowered rate climbs back, in shares of the documented rate per second without
/// throttling: back in full within about ten calm seconds.
const RECOVERY_PER_SECOND: f64 = 0.1;
/// Tokens kept in reserve: the cloud's bucket and this one start and refill at slightly
/// different instants, and one token of headroom absorbs the skew of a request's travel time.
const HEADROOM: f64 = 1.0;

#[derive(Debug)]
struct Bucket {
    limit: Limit,
    /// The rate in force: the limit's, or lower after throttling.
    rate: f64,
    /// May go below zero: callers queued behind the empty bucket, each holding its reservation.
    tokens: f64,
    at: Instant,
    waited: Duration,
    throttled: u64,
}

impl Bucket {
    fn new(limit: Limit, now: Instant) -> Bucket {
        Bucket {
            limit,
            rate: limit.per_second,
            tokens: (limit.burst - HEADROOM).max(1.0),
            at: now,
            waited: Duration::ZERO,
            throttled: 0,
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.at = now;
        if self.rate < self.limit.per_second {
            self.rate = (self.rate + elapsed * RECOVERY_PER_SECOND * self.limit.per_second)
                .min(self.limit.per_second);
        }
        self.tokens =
            (self.tokens + elapsed * self.rate).min((self.limit.burst - HEADROOM).max(1.0));
    }
}

tokio::task_local! {
    static PREPAID: Cell<Option<&'static str>>;
}

/// Runs `fut` with a token of `api` already taken ([`Pacer::pace`]): the first request of that
/// API inside it does not wait again. A caller that gathers work while it waits for its turn
/// (Route53 changes queued for one zone) paces first and sends what it gathered meanwhile.
pub async fn prepaid<F: Future>(api: &'static str, fut: F) -> F::Output {
    PREPAID.scope(Cell::new(Some(api)), fut).await
}

/// Whether the request about to go out was paid for by [`prepaid`]; uses the payment up. Call
/// it where the request is made, inside the task that paced.
pub fn take_prepaid(api: &str) -> bool {
    PREPAID
        .try_with(|paid| match paid.get() {
            Some(a) if a == api => {
                paid.set(None);
                true
            }
            _ => false,
        })
        .unwrap_or(false)
}

/// What pacing cost one API in a run.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct PacingReport {
    /// Time callers spent waiting for a token, summed over callers.
    pub waited: Duration,
    /// Throttled answers the provider reported back.
    pub throttled: u64,
}

/// A provider's buckets, shared by all its tasks for one command.
#[derive(Debug, Default)]
pub struct Pacer {
    buckets: Mutex<BTreeMap<String, Bucket>>,
    limits: BTreeMap<String, Limit>,
}

impl Pacer {
    pub fn new(limits: BTreeMap<String, Limit>) -> Pacer {
        Pacer {
            buckets: Mutex::new(BTreeMap::new()),
            limits,
        }
    }

    /// A pacer that never waits (tests, and clouds with no documented limits).
    pub fn unlimited() -> Pacer {
        Pacer::default()
    }

    pub fn limit(&self, api: &str) -> Option<Limit> {
        self.limits.get(api).copied()
    }

    /// Reserves a token of `api` and returns how long to wait before using it.
    fn reserve(&self, api: &str, now: Instant) -> Duration {
        let Some(limit) = self.limit(api) else {
            return Duration::ZERO;
        };
        if limit.per_second <= 0.0 {
            return Duration::ZERO;
        }
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let bucket = buckets
            .entry(api.to_string())
            .or_insert_with(|| Bucket::new(limit, now));
        bucket.refill(now);
        bucket.tokens -= 1.0;
        if bucket.tokens >= 0.0 {
            return Duration::ZERO;
        }
        let wait = Duration::from_secs_f64(-bucket.tokens / bucket.rate);
        bucket.waited += wait;
        wait
    }

    /// Waits until a request of `api` may go out. An API without a limit never waits.
    pub async fn pace(&self, api: &str) {
        let wait = self.reserve(api, Instant::now());
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }

    /// The cloud throttled a request of `api` regardless: something else spends the same
    /// budget, so this API slows down until it has been calm for a while.
    pub fn throttled(&self, api: &str) {
        let Some(limit) = self.limit(api) else {
            return;
        };
        let now = Instant::now();
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let bucket = buckets
            .entry(api.to_string())
            .or_insert_with(|| Bucket::new(limit, now));
        bucket.refill(now);
        bucket.rate = (bucket.rate * BACKOFF).max(limit.per_second * FLOOR_SHARE);
        bucket.throttled += 1;
    }

    /// What pacing cost each API so far.
    pub fn report(&self) -> BTreeMap<String, PacingReport> {
        self.buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .map(|(api, b)| {
                (
                    api.clone(),
                    PacingReport {
                        waited: b.waited,
                        throttled: b.throttled,
                    },
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pacer(api: &str, per_second: f64, burst: f64) -> Pacer {
        Pacer::new(BTreeMap::from([(
            api.to_string(),
            Limit::new(per_second, burst),
        )]))
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_goes_at_once_and_the_rest_at_the_rate() {
        let p = pacer("route53", 5.0, 5.0);
        let start = Instant::now();
        // Four go at once (five, less one of headroom), then one every 200 ms.
        for _ in 0..4 {
            p.pace("route53").await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
        for _ in 0..10 {
            p.pace("route53").await;
        }
        let took = start.elapsed().as_secs_f64();
        assert!((took - 2.0).abs() < 0.01, "{took}");
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_callers_queue_in_the_order_they_reserved() {
        let p = std::sync::Arc::new(pacer("route53", 5.0, 2.0));
        let start = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..11 {
            let p = std::sync::Arc::clone(&p);
            tasks.push(tokio::spawn(async move {
                p.pace("route53").await;
                start.elapsed()
            }));
        }
        let mut done = Vec::new();
        for t in tasks {
            done.push(t.await.unwrap().as_secs_f64());
        }
        done.sort_by(f64::total_cmp);
        // One at once, then ten at 200 ms intervals: the last at 2 s, never two in one slot.
        assert!((done[10] - 2.0).abs() < 0.01, "{done:?}");
        for pair in done.windows(2).skip(1) {
            assert!(pair[1] - pair[0] > 0.19, "{done:?}");
        }
        assert!(p.report()["route53"].waited > Duration::from_secs(10));
    }

    #[tokio::test(start_paused = true)]
    async fn apis_have_their_own_buckets_and_unlisted_ones_never_wait() {
        let p = pacer("route53", 1.0, 1.0);
        p.pace("route53").await;
        let start = Instant::now();
        p.pace("ec2-mutating").await;
        p.pace("ec2-mutating").await;
        assert_eq!(start.elapsed(), Duration::ZERO);
        p.pace("route53").await;
        assert!(start.elapsed() >= Duration::from_millis(999));
    }

    #[tokio::test(start_paused = true)]
    async fn throttling_halves_the_rate_of_that_api_and_calm_brings_it_back() {
        let p = pacer("route53", 4.0, 1.0);
        p.pace("route53").await;
        p.throttled("route53");
        let start = Instant::now();
        p.pace("route53").await;
        // At half of 4 per second: 500 ms rather than 250.
        let took = start.elapsed().as_secs_f64();
        assert!((0.45..0.55).contains(&took), "{took}");
        tokio::time::sleep(Duration::from_secs(20)).await;
        p.pace("route53").await;
        let start = Instant::now();
        p.pace("route53").await;
        let took = start.elapsed().as_secs_f64();
        assert!((0.24..0.26).contains(&took), "back to full rate: {took}");
        assert_eq!(p.report()["route53"].throttled, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_prepaid_request_is_not_paced_twice() {
        assert!(!take_prepaid("route53"), "nothing paid outside a scope");
        prepaid("route53", async {
            assert!(!take_prepaid("ec2-mutating"), "paid for another API");
            assert!(take_prepaid("route53"));
            assert!(!take_prepaid("route53"), "a payment is used once");
        })
        .await;
    }

    #[test]
    fn overrides_change_remove_and_add_limits() {
        let overrides = Overrides::from([
            ("route53".to_string(), Some(Limit::new(2.0, 2.0))),
            ("ec2-mutating".to_string(), None),
            ("elbv2-mutating".to_string(), Some(Limit::new(1.0, 10.0))),
            ("fake-api".to_string(), Some(Limit::new(1.0, 1.0))),
        ]);
        let limits = effective("aws", Defaults::Documented, &overrides);
        assert_eq!(limits["route53"], Limit::new(2.0, 2.0));
        assert!(!limits.contains_key("ec2-mutating"));
        assert_eq!(limits["ec2-non-mutating"], Limit::new(20.0, 100.0));
        assert_eq!(limits["elbv2-mutating"], Limit::new(1.0, 10.0));
        assert!(effective("fake", Defaults::Documented, &Overrides::new()).is_empty());
        let unpaced = effective("aws", Defaults::Unpaced, &overrides);
        assert_eq!(
            unpaced.keys().collect::<Vec<_>>(),
            ["elbv2-mutating", "fake-api", "route53"]
        );
        assert!(
            !effective("aws", Defaults::Documented, &Overrides::new())
                .contains_key("elbv2-mutating"),
            "no published number, no pacing by default"
        );
    }

    #[test]
    fn emulators_on_this_machine_are_not_paced_unless_asked() {
        let choose = Defaults::choose;
        assert_eq!(choose(None, None), Ok(Defaults::Documented));
        assert_eq!(
            choose(Some("https://ec2.eu-west-1.amazonaws.com"), None),
            Ok(Defaults::Documented)
        );
        assert_eq!(
            choose(Some("http://127.0.0.1:5000"), None),
            Ok(Defaults::Unpaced)
        );
        assert_eq!(
            choose(Some("http://127.0.0.1:5000"), Some("documented")),
            Ok(Defaults::Documented)
        );
        assert_eq!(choose(None, Some("off")), Ok(Defaults::Unpaced));
        assert!(choose(None, Some("fast"))
            .unwrap_err()
            .contains("documented"));
    }
}

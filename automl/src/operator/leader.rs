//! Leader election on a `coordination.k8s.io/v1` Lease, as client-go's leaderelection
//! does it: the leader renews `renewTime` every third of the lease's duration; another
//! replica takes the Lease only once a whole duration has passed without a renewal. Every
//! write is a create or a replace from the resourceVersion just read, so two replicas
//! racing for an expired Lease cannot both win: the API server answers the second 409.
use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, PostParams};

use crate::error::{Error, Result};

/// One replica's side of the election.
pub struct Elector {
    api: Api<Lease>,
    name: String,
    identity: String,
    duration: Duration,
}

/// Who holds the Lease after an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Holder {
    /// This replica leads.
    Me,
    /// Another replica does (its identity), until its Lease expires.
    Other(String),
}

impl Elector {
    /// An elector for the Lease `name` in `api`'s namespace.
    pub fn new(api: Api<Lease>, name: &str, identity: &str, duration: Duration) -> Self {
        Elector { api, name: name.to_string(), identity: identity.to_string(), duration }
    }

    /// How often the leader renews, and how often a follower tries again.
    pub fn retry_period(&self) -> Duration {
        self.duration / 3
    }

    /// Takes the Lease if it is free or expired, or renews it if it is ours.
    pub async fn try_acquire_or_renew(&self) -> Result<Holder> {
        let now = Timestamp::now();
        let current = self.api.get_opt(&self.name).await.map_err(|e| Error::cluster_caused(format!("cannot read the Lease {}", self.name), e))?;
        let Some(mut lease) = current else {
            let lease = Lease { metadata: ObjectMeta { name: Some(self.name.clone()), ..Default::default() }, spec: Some(self.spec(now, None)) };
            return self.write(self.api.create(&PostParams::default(), &lease).await);
        };
        let spec = lease.spec.clone().unwrap_or_default();
        let holder = spec.holder_identity.clone().filter(|h| !h.is_empty());
        let mine = holder.as_deref() == Some(self.identity.as_str());
        if let (Some(h), false) = (&holder, mine || self.expired(&spec, now)) {
            return Ok(Holder::Other(h.clone()));
        }
        lease.spec = Some(if mine {
            LeaseSpec { renew_time: Some(MicroTime(now)), lease_duration_seconds: Some(self.seconds()), ..spec }
        } else {
            self.spec(now, Some(&spec))
        });
        self.write(self.api.replace(&self.name, &PostParams::default(), &lease).await)
    }

    /// Gives the Lease up (on a clean shutdown), so the next replica need not wait.
    pub async fn release(&self) {
        if let Ok(Some(mut lease)) = self.api.get_opt(&self.name).await {
            let ours = lease.spec.as_ref().and_then(|s| s.holder_identity.as_deref()) == Some(self.identity.as_str());
            if ours {
                if let Some(spec) = lease.spec.as_mut() {
                    spec.holder_identity = None;
                    spec.renew_time = None;
                }
                let _ = self.api.replace(&self.name, &PostParams::default(), &lease).await;
            }
        }
    }

    fn expired(&self, spec: &LeaseSpec, now: Timestamp) -> bool {
        let duration = spec.lease_duration_seconds.map_or(self.duration, |s| Duration::from_secs(s.max(0) as u64));
        match &spec.renew_time {
            None => true,
            Some(MicroTime(renewed)) => now.as_millisecond() - renewed.as_millisecond() >= duration.as_millis() as i64,
        }
    }

    /// The spec when this replica holds the Lease; `taken_from`: the previous holder's, when it changes hands.
    fn spec(&self, now: Timestamp, taken_from: Option<&LeaseSpec>) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(self.identity.clone()),
            lease_duration_seconds: Some(self.seconds()),
            acquire_time: Some(MicroTime(now)),
            renew_time: Some(MicroTime(now)),
            lease_transitions: Some(taken_from.map_or(0, |s| s.lease_transitions.unwrap_or(0) + 1)),
            ..Default::default()
        }
    }

    fn seconds(&self) -> i32 {
        self.duration.as_secs().clamp(1, i32::MAX as u64) as i32
    }

    fn write(&self, answer: kube::Result<Lease>) -> Result<Holder> {
        match answer {
            Ok(_) => Ok(Holder::Me),
            // Another replica wrote first.
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(Holder::Other("another replica".into())),
            Err(e) => Err(Error::cluster_caused(format!("cannot write the Lease {}", self.name), e)),
        }
    }
}

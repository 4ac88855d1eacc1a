//! A small authentication and authorization table, answering `TokenReview` and
//! `SubjectAccessReview` as a real server's webhook or RBAC would. kubetrail uses these reviews
//! to map bearer tokens to tenants and to check what a tenant may read.

use std::collections::HashMap;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Who a token belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserInfo {
    /// The user name, e.g. `alice` or `system:serviceaccount:ns:sa`.
    pub username: String,
    /// The user's groups.
    pub groups: Vec<String>,
}

/// One permission: `verb` on `resource` in `namespace` (`None`: every namespace and
/// cluster-scoped objects). `"*"` matches any verb or resource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    /// `get`, `list`, `watch`... or `*`.
    pub verb: String,
    /// Plural resource name (`events`, `pods`...) or `*`.
    pub resource: String,
    /// The namespace the rule is limited to.
    pub namespace: Option<String>,
}

impl Rule {
    /// A rule for `verb` on `resource`, limited to `namespace` when given.
    pub fn new(verb: &str, resource: &str, namespace: Option<&str>) -> Self {
        Self {
            verb: verb.to_string(),
            resource: resource.to_string(),
            namespace: namespace.map(str::to_string),
        }
    }

    fn allows(&self, verb: &str, resource: &str, namespace: Option<&str>) -> bool {
        let verb_ok = self.verb == "*" || self.verb == verb;
        let resource_ok = self.resource == "*" || self.resource == resource;
        let namespace_ok = match &self.namespace {
            None => true,
            Some(allowed) => namespace == Some(allowed.as_str()),
        };
        verb_ok && resource_ok && namespace_ok
    }
}

/// The table; cheap to clone, all clones share it.
#[derive(Clone, Default)]
pub struct Policy {
    table: Arc<RwLock<Table>>,
}

#[derive(Default)]
struct Table {
    tokens: HashMap<String, UserInfo>,
    /// Rules by subject: a user name, or `group:<name>` for a group.
    rules: HashMap<String, Vec<Rule>>,
}

impl Policy {
    /// Makes `token` authenticate as `username` with `groups`.
    pub fn add_token(&self, token: &str, username: &str, groups: &[&str]) {
        let user = UserInfo {
            username: username.to_string(),
            groups: groups.iter().map(|g| (*g).to_string()).collect(),
        };
        self.write().tokens.insert(token.to_string(), user);
    }

    /// Grants `rule` to `subject`: a user name, or `group:<name>` for every member of a group.
    pub fn allow(&self, subject: &str, rule: Rule) {
        self.write()
            .rules
            .entry(subject.to_string())
            .or_default()
            .push(rule);
    }

    /// The user a token belongs to.
    pub fn authenticate(&self, token: &str) -> Option<UserInfo> {
        self.read().tokens.get(token).cloned()
    }

    /// Whether the user (directly or through a group) may `verb` `resource` in `namespace`.
    pub fn authorize(
        &self,
        username: &str,
        groups: &[String],
        verb: &str,
        resource: &str,
        namespace: Option<&str>,
    ) -> bool {
        let table = self.read();
        let subjects = std::iter::once(username.to_string())
            .chain(groups.iter().map(|g| format!("group:{g}")));
        subjects
            .filter_map(|subject| table.rules.get(&subject))
            .flatten()
            .any(|rule| rule.allows(verb, resource, namespace))
    }

    fn read(&self) -> RwLockReadGuard<'_, Table> {
        // The table is replaced entry by entry; a poisoned lock still holds usable data.
        self.table
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Table> {
        self.table
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_apply_to_users_and_groups_within_their_namespace() {
        let policy = Policy::default();
        policy.add_token("t-alice", "alice", &["team-a"]);
        policy.allow("alice", Rule::new("list", "events", Some("shop")));
        policy.allow("group:team-a", Rule::new("*", "pods", Some("shop")));
        let alice = policy.authenticate("t-alice").expect("known token");
        let groups = alice.groups.clone();
        assert!(policy.authorize("alice", &groups, "list", "events", Some("shop")));
        assert!(policy.authorize("alice", &groups, "watch", "pods", Some("shop")));
        assert!(!policy.authorize("alice", &groups, "list", "events", Some("kube-system")));
        assert!(!policy.authorize("alice", &groups, "list", "events", None));
        assert!(!policy.authorize("bob", &[], "list", "events", Some("shop")));
        assert!(policy.authenticate("nope").is_none());
    }
}

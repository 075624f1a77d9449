//! A kubeconfig that points kubectl and other clients at a running server.

/// The kubeconfig YAML for `url` (plain HTTP, no credentials: the server trusts loopback).
pub fn render(url: &str) -> String {
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: videosdk-inmemory
  cluster:
    server: {url}
contexts:
- name: videosdk-inmemory
  context:
    cluster: videosdk-inmemory
    user: videosdk-inmemory
    namespace: default
current-context: videosdk-inmemory
users:
- name: videosdk-inmemory
  user: {{}}
preferences: {{}}
"
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_as_a_kubeconfig() {
        let yaml = super::render("http://127.0.0.1:1234");
        let k: kube::config::Kubeconfig = serde_yaml::from_str(&yaml).unwrap();
        assert_eq!(k.current_context.as_deref(), Some("videosdk-inmemory"));
        assert_eq!(
            k.clusters[0].cluster.as_ref().unwrap().server.as_deref(),
            Some("http://127.0.0.1:1234")
        );
    }
}

fn main() {
    print!("{}", videosdk_token_operator::api::crds_yaml());
}

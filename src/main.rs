fn main() {
    println!("woocommerce-sync");
}

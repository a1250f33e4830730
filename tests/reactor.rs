use std::rc::Rc;
use corio::net::{TcpListener, TcpStream};

#[test]
fn two_acceptors_on_one_listener_both_get_a_connection() {
    corio::run(|| {
        let listener = Rc::new(TcpListener::bind("127.0.0.1:0").unwrap());
        let addr = listener.local_addr().unwrap();
        let acceptors: Vec<_> = (0..2)
            .map(|_| {
                let listener = Rc::clone(&listener);
                corio::spawn(move || listener.accept().map(|_| ()))
            })
            .collect();
        corio::yield_now(); // both park in accept
        let _a = TcpStream::connect(addr).unwrap();
        corio::sleep(std::time::Duration::from_millis(10));
        let _b = TcpStream::connect(addr).unwrap();
        for a in acceptors {
            a.join().unwrap().unwrap();
        }
    });
}

//! Leptos with leptos_router: a nav, eight trivial routes (one with a parameter), a fallback.
use leptos::prelude::*;
use leptos_router::{
    components::{A, Route, Router, Routes},
    path,
};
#[component]
fn P1() -> impl IntoView {
    let c = RwSignal::new(0);
    view! { <p>"one"</p><button on:click=move |_| c.update(|c| *c += 1)>{c}</button> }
}
#[component]
fn P2() -> impl IntoView {
    view! { <p>"two"</p> }
}
#[component]
fn P3() -> impl IntoView {
    view! { <p>"three"</p> }
}
#[component]
fn P4() -> impl IntoView {
    view! { <p>"four"</p> }
}
#[component]
fn P5() -> impl IntoView {
    view! { <p>"five"</p> }
}
#[component]
fn P6() -> impl IntoView {
    view! { <p>"six"</p> }
}
#[component]
fn P7() -> impl IntoView {
    view! { <p>"seven"</p> }
}
#[component]
fn P8() -> impl IntoView {
    view! { <p>"eight"</p> }
}
#[component]
fn Nf() -> impl IntoView {
    view! { <p>"nf"</p> }
}
fn main() {
    mount_to_body(|| {
        view! {
            <Router>
                <nav><A href="/">"1"</A><A href="/2">"2"</A></nav>
                <Routes fallback=Nf>
                    <Route path=path!("/") view=P1 />
                    <Route path=path!("/2") view=P2 />
                    <Route path=path!("/3") view=P3 />
                    <Route path=path!("/4") view=P4 />
                    <Route path=path!("/5") view=P5 />
                    <Route path=path!("/6") view=P6 />
                    <Route path=path!("/7") view=P7 />
                    <Route path=path!("/8/:id") view=P8 />
                </Routes>
            </Router>
        }
    });
}

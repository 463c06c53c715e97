//! The same eight pages chosen by a match on the path, as frontend/src/route.rs does.
use leptos::prelude::*;
use wasm_bindgen::{JsCast, closure::Closure};
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
fn P8(id: String) -> impl IntoView {
    view! { <p>"eight" {id}</p> }
}
#[component]
fn Nf() -> impl IntoView {
    view! { <p>"nf"</p> }
}
fn pathname() -> String {
    window().location().pathname().unwrap_or_default()
}
fn main() {
    let path = RwSignal::new(pathname());
    let on_pop = Closure::<dyn Fn()>::new(move || path.set(pathname()));
    window().set_onpopstate(Some(on_pop.as_ref().unchecked_ref()));
    on_pop.forget();
    let go = move |ev: leptos::ev::MouseEvent| {
        if let Some(a) = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            .and_then(|e| e.closest("a").ok().flatten())
        {
            if let Some(href) = a.get_attribute("href") {
                if href.starts_with('/') {
                    ev.prevent_default();
                    let _ = window().history().unwrap().push_state_with_url(
                        &wasm_bindgen::JsValue::NULL,
                        "",
                        Some(&href),
                    );
                    path.set(href);
                }
            }
        }
    };
    mount_to_body(move || {
        view! {
            <nav on:click=go><a href="/">"1"</a><a href="/2">"2"</a></nav>
            {move || { let p = path.get(); match p.as_str() {
                "/" => view! { <P1/> }.into_any(),
                "/2" => view! { <P2/> }.into_any(),
                "/3" => view! { <P3/> }.into_any(),
                "/4" => view! { <P4/> }.into_any(),
                "/5" => view! { <P5/> }.into_any(),
                "/6" => view! { <P6/> }.into_any(),
                "/7" => view! { <P7/> }.into_any(),
                other => match other.strip_prefix("/8/") { Some(id) => view! { <P8 id=id.to_owned()/> }.into_any(), None => view! { <Nf/> }.into_any() },
            }}}
        }
    });
}

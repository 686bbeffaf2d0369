--
-- PostgreSQL database dump
--

\restrict dt4iJAx9TO1yKDT7xeiUZQEjvxdrxZkiMyVUXoO8tgiKG3JtJswokyrFwZ22I4g

-- Dumped from database version 15.20 (Debian 15.20-0+deb12u1)
-- Dumped by pg_dump version 15.20 (Debian 15.20-0+deb12u1)

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: agreement_acceptances; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.agreement_acceptances (
    "user" character varying(200) NOT NULL,
    version character varying(64) NOT NULL,
    accepted_at character varying(32) NOT NULL
);


--
-- Name: audit_events; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.audit_events (
    seq integer NOT NULL,
    "time" character varying(32) NOT NULL,
    actor character varying(200) NOT NULL,
    action character varying(100) NOT NULL,
    project character varying(200),
    request character varying(100),
    details text NOT NULL,
    prev_hash character varying(64) NOT NULL,
    hash character varying(64) NOT NULL
);


--
-- Name: pg_log_offsets; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.pg_log_offsets (
    path text NOT NULL,
    inode bigint NOT NULL,
    "offset" bigint NOT NULL
);


--
-- Name: pg_sessions; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.pg_sessions (
    role character varying(63) NOT NULL,
    "user" character varying(200) NOT NULL,
    project character varying(30) NOT NULL
);


--
-- Name: project_approvals; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.project_approvals (
    project character varying(30) NOT NULL,
    institution character varying(20) NOT NULL,
    approved_by character varying(200) NOT NULL,
    approved_at character varying(32) NOT NULL
);


--
-- Name: project_members; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.project_members (
    project character varying(30) NOT NULL,
    "user" character varying(200) NOT NULL,
    added_at character varying(32) NOT NULL
);


--
-- Name: projects; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.projects (
    name character varying(30) NOT NULL,
    purpose text NOT NULL,
    expires date NOT NULL,
    expired_at character varying(32),
    created_by character varying(200) NOT NULL,
    created_at character varying(32) NOT NULL,
    warehouse_access text
);


--
-- Name: review_comments; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.review_comments (
    id integer NOT NULL,
    request_id character varying(32) NOT NULL,
    author character varying(200) NOT NULL,
    body text NOT NULL,
    visibility character varying(16) NOT NULL,
    "time" character varying(32) NOT NULL
);


--
-- Name: review_comments_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.review_comments_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: review_comments_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.review_comments_id_seq OWNED BY public.review_comments.id;


--
-- Name: review_decisions; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.review_decisions (
    id integer NOT NULL,
    request_id character varying(32) NOT NULL,
    round integer NOT NULL,
    "user" character varying(200) NOT NULL,
    decision character varying(32) NOT NULL,
    as_reviewer boolean NOT NULL,
    institutions text NOT NULL,
    sha256 character varying(64) NOT NULL,
    "time" character varying(32) NOT NULL
);


--
-- Name: review_decisions_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.review_decisions_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: review_decisions_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.review_decisions_id_seq OWNED BY public.review_decisions.id;


--
-- Name: review_releases; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.review_releases (
    request_id character varying(32) NOT NULL,
    sha256 character varying(64) NOT NULL,
    size bigint NOT NULL,
    approvers text NOT NULL,
    built character varying(32) NOT NULL
);


--
-- Name: review_requests; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.review_requests (
    id character varying(32) NOT NULL,
    project character varying(200) NOT NULL,
    author character varying(200) NOT NULL,
    notebook character varying(200) NOT NULL,
    sha256 character varying(64) NOT NULL,
    size bigint NOT NULL,
    purpose text NOT NULL,
    summary text NOT NULL,
    exception_note text NOT NULL,
    status character varying(32) NOT NULL,
    round integer NOT NULL,
    gate_verdict character varying(16) NOT NULL,
    gate_report text NOT NULL,
    institutions text NOT NULL,
    institutions_source text NOT NULL,
    created character varying(32) NOT NULL,
    updated character varying(32) NOT NULL
);


--
-- Name: review_comments id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.review_comments ALTER COLUMN id SET DEFAULT nextval('public.review_comments_id_seq'::regclass);


--
-- Name: review_decisions id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.review_decisions ALTER COLUMN id SET DEFAULT nextval('public.review_decisions_id_seq'::regclass);


--
-- Data for Name: agreement_acceptances; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.agreement_acceptances ("user", version, accepted_at) FROM stdin;
rita	0123456789abcdef	2026-12-01T22:37:58+00:00
bob	0123456789abcdef	2026-12-01T22:37:58+00:00
\.


--
-- Data for Name: audit_events; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.audit_events (seq, "time", actor, action, project, request, details, prev_hash, hash) FROM stdin;
1	2026-12-01T22:37:58.544154+00:00	ada	project.create	study	\N	{"expires":"2099-12-31","purpose":"study purpose"}	0000000000000000000000000000000000000000000000000000000000000000	8d8ce4391f65da492a59eb8c5ab59cc703ed81a2bc061f67bbc5aeccf38e9650
2	2026-12-01T22:37:58.581347+00:00	ada	project.add-member	study	\N	{"member":"rita"}	8d8ce4391f65da492a59eb8c5ab59cc703ed81a2bc061f67bbc5aeccf38e9650	74a72abb69dc4e2ff99cbd34ebf830080345eaaa0b4456a0e5e64e74ee9c3578
3	2026-12-01T22:37:58.617113+00:00	ada	project.add-member	study	\N	{"member":"bob"}	74a72abb69dc4e2ff99cbd34ebf830080345eaaa0b4456a0e5e64e74ee9c3578	7366d89bf6f6ba680f4fbea979e81cb697e8b23db0182b86d93253ed0a8b251f
4	2026-12-01T22:37:58.640481+00:00	ada	project.approve	study	\N	{"institution":"CC-101","institutions":["CC-101"]}	7366d89bf6f6ba680f4fbea979e81cb697e8b23db0182b86d93253ed0a8b251f	6706e3a959ddb282222913266050777a92196f61ba3967351fd1dddd32c83c8c
5	2026-12-01T22:37:58.659171+00:00	ada	project.approve	study	\N	{"institution":"UNI-201","institutions":["CC-101","UNI-201"]}	6706e3a959ddb282222913266050777a92196f61ba3967351fd1dddd32c83c8c	d2cd3c4dc0cba8ea8854951748e557607ff9fa52d4b0bb05f646af40c055c6a7
6	2026-12-01T22:37:58.672967+00:00	ada	project.create	finished	\N	{"expires":"2099-12-31","purpose":"finished purpose"}	d2cd3c4dc0cba8ea8854951748e557607ff9fa52d4b0bb05f646af40c055c6a7	e920c1877ff893f0a74f8419bd5609a2094bf3e5b7492895b236a4a1bdd3b450
7	2026-12-01T22:37:58.685956+00:00	ada	project.add-member	finished	\N	{"member":"rita"}	e920c1877ff893f0a74f8419bd5609a2094bf3e5b7492895b236a4a1bdd3b450	37a8b83068365a2dfbd5e7bc6f926a43a173378ce54131de56c7e5a80221d552
8	2026-12-01T22:37:58.698714+00:00	ada	project.add-member	finished	\N	{"member":"bob"}	37a8b83068365a2dfbd5e7bc6f926a43a173378ce54131de56c7e5a80221d552	501ef2281927902cee7eef8c977bac2048e5a06c03d36cf6c54e1affa18140dc
9	2026-12-01T22:37:58.705742+00:00	ada	project.approve	finished	\N	{"institution":"CC-101","institutions":["CC-101"]}	501ef2281927902cee7eef8c977bac2048e5a06c03d36cf6c54e1affa18140dc	9311df080f869cdea8fa17a2e4b4352f3e00c63909b5c71819c3469db77e710f
10	2026-12-01T22:37:58.711119+00:00	ada	project.approve	finished	\N	{"institution":"UNI-201","institutions":["CC-101","UNI-201"]}	9311df080f869cdea8fa17a2e4b4352f3e00c63909b5c71819c3469db77e710f	b6737096952018f568996c3438e8519f3594b52bbd7a0518af1e8fae206cddfe
11	2026-12-01T22:37:58.716529+00:00	ada	project.expire	finished	\N	{}	b6737096952018f568996c3438e8519f3594b52bbd7a0518af1e8fae206cddfe	3334c9619c52cfb190bfa5e36e6739d3d8cd77e6089670045b5ca7902aca4be1
12	2026-12-01T22:37:58.727622+00:00	rita	agreement.accept	\N	\N	{"version":"0123456789abcdef"}	3334c9619c52cfb190bfa5e36e6739d3d8cd77e6089670045b5ca7902aca4be1	644ebf1be6fc58fdce255604b27f066c5a8bcb1623f6641a6220b91976b2fc40
13	2026-12-01T22:37:58.730918+00:00	bob	agreement.accept	\N	\N	{"version":"0123456789abcdef"}	644ebf1be6fc58fdce255604b27f066c5a8bcb1623f6641a6220b91976b2fc40	0ce83a8e1f3d358324d0ea19359ca32b3b70cd815be920547483083a194eede2
14	2026-12-01T22:37:58.734029+00:00	rita	spawn	study	\N	{"institutions":["CC-101"]}	0ce83a8e1f3d358324d0ea19359ca32b3b70cd815be920547483083a194eede2	22755e206d46a32c7a4df27e150ec8eeaf2ce34f3b4bf092cb8d4f422f53114f
15	2026-12-01T22:37:58.755106+00:00	rita	warehouse.query	study	\N	{"role":"wh_sess_rita","source":"postgresql-log","sql":"SELECT count(*) FROM warehouse.cc_terms","time":"2026-11-28 10:00:01.000 UTC"}	22755e206d46a32c7a4df27e150ec8eeaf2ce34f3b4bf092cb8d4f422f53114f	e2dcd92346d6396a7a8decca672beb4f7014c9e754ed7a700c0ac599d028c317
16	2026-12-01T22:37:58.806943+00:00	rita	warehouse.query	study	\N	{"institutions":["CC-101"],"notebook":"study_1.ipynb","rows":1,"sql":"SELECT 1","time":"2026-11-28T10:00:00"}	e2dcd92346d6396a7a8decca672beb4f7014c9e754ed7a700c0ac599d028c317	b69680d065e3b393909e51600c45355e4f064ff2e142bdf4e935c5b211e8618e
17	2026-12-01T22:37:58.820617+00:00	rita	request.submit	study	r-549652617d	{"exception_requested":false,"institutions":["CC-101","UNI-201"],"notebook":"study_1.ipynb","round":1,"sha256":"f7c1dc88b76df022d19945ca4c720e33f7cda9f6236a956711b40748c83ecdfc","size":423}	b69680d065e3b393909e51600c45355e4f064ff2e142bdf4e935c5b211e8618e	7653bd288d1dd05089c3d2774405b215e905bb3484032f2819fbdf04fb68727f
18	2026-12-01T22:37:58.821985+00:00	rita	gate.result	study	r-549652617d	{"blocked":0,"findings":0,"sha256":"f7c1dc88b76df022d19945ca4c720e33f7cda9f6236a956711b40748c83ecdfc","verdict":"pass"}	7653bd288d1dd05089c3d2774405b215e905bb3484032f2819fbdf04fb68727f	fc75765048910dc1eb0be899b1f38eafcf2ddeee1dab3fd17181c7b83ceaff72
19	2026-12-01T22:37:58.826673+00:00	rev1	request.comment	study	r-549652617d	{"comment":1,"visibility":"reviewers"}	fc75765048910dc1eb0be899b1f38eafcf2ddeee1dab3fd17181c7b83ceaff72	cd3f1cad2440bb37e471f9e2d3f9e8ebeccba82252beeec411e5673d04eefdd7
20	2026-12-01T22:37:58.834770+00:00	rev1	request.decide	study	r-549652617d	{"as_reviewer":true,"decision":"approve","institutions":[],"round":1,"sha256":"f7c1dc88b76df022d19945ca4c720e33f7cda9f6236a956711b40748c83ecdfc","status":"in_review"}	cd3f1cad2440bb37e471f9e2d3f9e8ebeccba82252beeec411e5673d04eefdd7	70b3ee9299bf5ca00d62e351842d00af080bb36bfe7cb6750b8b319ba6acff9c
21	2026-12-01T22:37:58.838417+00:00	rev2	request.comment	study	r-549652617d	{"comment":2,"visibility":"reviewers"}	70b3ee9299bf5ca00d62e351842d00af080bb36bfe7cb6750b8b319ba6acff9c	205e4eb15a74e5869af6439a034983ddd14ab543bed833fdd68dd6ca49ee7139
22	2026-12-01T22:37:58.843338+00:00	rev2	request.decide	study	r-549652617d	{"as_reviewer":true,"decision":"approve","institutions":[],"round":1,"sha256":"f7c1dc88b76df022d19945ca4c720e33f7cda9f6236a956711b40748c83ecdfc","status":"in_review"}	205e4eb15a74e5869af6439a034983ddd14ab543bed833fdd68dd6ca49ee7139	3f4c662f3bdb63029d414baff5071e4059bc4acfecae1ca9963271bb15d70b17
23	2026-12-01T22:37:58.846346+00:00	stew-cc-101	request.comment	study	r-549652617d	{"comment":3,"visibility":"reviewers"}	3f4c662f3bdb63029d414baff5071e4059bc4acfecae1ca9963271bb15d70b17	3d443de986e65bdd8c84dd806b4d03d62062a6037bf27b8e316145825887178d
24	2026-12-01T22:37:58.851314+00:00	stew-cc-101	request.decide	study	r-549652617d	{"as_reviewer":false,"decision":"approve","institutions":["CC-101"],"round":1,"sha256":"f7c1dc88b76df022d19945ca4c720e33f7cda9f6236a956711b40748c83ecdfc","status":"in_review"}	3d443de986e65bdd8c84dd806b4d03d62062a6037bf27b8e316145825887178d	6b84bef1ed28297a610f8937b2b0a4c52f032d9e5dd06bc336e271e64246f99d
25	2026-12-01T22:37:58.857871+00:00	stew-uni-201	request.comment	study	r-549652617d	{"comment":4,"visibility":"reviewers"}	6b84bef1ed28297a610f8937b2b0a4c52f032d9e5dd06bc336e271e64246f99d	e016c9a8135b101dff57c4f93fb94efff78f28eca0a1de0d8c7606ed6a293247
26	2026-12-01T22:37:58.864149+00:00	stew-uni-201	request.decide	study	r-549652617d	{"as_reviewer":false,"decision":"approve","institutions":["UNI-201"],"round":1,"sha256":"f7c1dc88b76df022d19945ca4c720e33f7cda9f6236a956711b40748c83ecdfc","status":"approved"}	e016c9a8135b101dff57c4f93fb94efff78f28eca0a1de0d8c7606ed6a293247	4a466c5c6e5736252d493056e72aab64e84fbbf769aa11123a664d46c2bccf55
27	2026-12-01T22:37:59.054405+00:00	review-service	release.build	study	r-549652617d	{"approvers":["rev1","rev2","stew-cc-101","stew-uni-201"],"sha256":"bf9ce826b4970024b0a4b7acc64e20a98f4839c25eb27a515de58526a3ca33b2","size":61322,"status":"released"}	4a466c5c6e5736252d493056e72aab64e84fbbf769aa11123a664d46c2bccf55	23d081a343a3e90740d0d672ee7c42c0e8d5f0d1274d0e83f5f1a1a51bc642d7
28	2026-12-01T22:37:59.068230+00:00	rita	release.download	study	r-549652617d	{"sha256":"bf9ce826b4970024b0a4b7acc64e20a98f4839c25eb27a515de58526a3ca33b2"}	23d081a343a3e90740d0d672ee7c42c0e8d5f0d1274d0e83f5f1a1a51bc642d7	24678b1766e8d87b5deb1ff9c3f43b4111e98307748d49ce49c08046b2f87ef3
29	2026-12-01T22:37:59.087536+00:00	rita	request.submit	study	r-06fcfee425	{"exception_requested":false,"institutions":["CC-101","UNI-201"],"notebook":"study_2.ipynb","round":1,"sha256":"96a007f141e58f798c3c2c1fc879b6e4bb06101504b11297144db1dda7e3448d","size":423}	24678b1766e8d87b5deb1ff9c3f43b4111e98307748d49ce49c08046b2f87ef3	8c69dc30ef6c220f2591b2f26cf707e9fa470b3616a4addf8531158179244181
30	2026-12-01T22:37:59.093698+00:00	rita	gate.result	study	r-06fcfee425	{"blocked":0,"findings":0,"sha256":"96a007f141e58f798c3c2c1fc879b6e4bb06101504b11297144db1dda7e3448d","verdict":"pass"}	8c69dc30ef6c220f2591b2f26cf707e9fa470b3616a4addf8531158179244181	78b98a4bc03d45af838947274a1a68a96aeabc41b672da41e617e7eed8aabbd7
31	2026-12-01T22:37:59.101929+00:00	rev1	request.decide	study	r-06fcfee425	{"as_reviewer":true,"decision":"approve","institutions":[],"round":1,"sha256":"96a007f141e58f798c3c2c1fc879b6e4bb06101504b11297144db1dda7e3448d","status":"in_review"}	78b98a4bc03d45af838947274a1a68a96aeabc41b672da41e617e7eed8aabbd7	4d4cd32e744cabce192271df6370cfa6e404c919345b12acbe3e1423d11e496a
32	2026-12-01T22:37:59.111613+00:00	rev2	request.decide	study	r-06fcfee425	{"as_reviewer":true,"decision":"request_changes","institutions":[],"round":1,"sha256":"96a007f141e58f798c3c2c1fc879b6e4bb06101504b11297144db1dda7e3448d","status":"changes_requested"}	4d4cd32e744cabce192271df6370cfa6e404c919345b12acbe3e1423d11e496a	ab2bd2e180985299029ea45cdf95408234c5cf85bdfc55fc55b0f20e39deae8c
33	2026-12-01T22:37:59.115974+00:00	rev2	request.comment	study	r-06fcfee425	{"comment":5,"visibility":"all"}	ab2bd2e180985299029ea45cdf95408234c5cf85bdfc55fc55b0f20e39deae8c	4f96b0ef05acf15588fce79c9754413a7c5d27772937ce5f71e04d7d9a4d86fc
34	2026-12-01T22:37:59.141772+00:00	rita	request.submit	study	r-06fcfee425	{"exception_requested":false,"institutions":["CC-101","UNI-201"],"notebook":"study_3.ipynb","round":2,"sha256":"61b12bf21d8f9c74471fa4056d97652cebfc642e12fc3600e8f8b704dcc3242c","size":423}	4f96b0ef05acf15588fce79c9754413a7c5d27772937ce5f71e04d7d9a4d86fc	140221d0f7b14cdb30c78e30a6f5c802a1e7813485b996839546481a0dd72c24
35	2026-12-01T22:37:59.145561+00:00	rita	gate.result	study	r-06fcfee425	{"blocked":0,"findings":0,"sha256":"61b12bf21d8f9c74471fa4056d97652cebfc642e12fc3600e8f8b704dcc3242c","verdict":"pass"}	140221d0f7b14cdb30c78e30a6f5c802a1e7813485b996839546481a0dd72c24	170d952452f2fa369126b28fb1c360f7950fb1ddf0761bdc6281e619c66cee6a
36	2026-12-01T22:37:59.158805+00:00	rev2	request.decide	study	r-06fcfee425	{"as_reviewer":true,"decision":"reject","institutions":[],"round":2,"sha256":"61b12bf21d8f9c74471fa4056d97652cebfc642e12fc3600e8f8b704dcc3242c","status":"rejected"}	170d952452f2fa369126b28fb1c360f7950fb1ddf0761bdc6281e619c66cee6a	9e24d9ecdae30aa9e9a1eecceab22bfc469989d86311d73d76c574b078777a6e
37	2026-12-01T22:37:59.166393+00:00	rev2	request.comment	study	r-06fcfee425	{"comment":6,"visibility":"all"}	9e24d9ecdae30aa9e9a1eecceab22bfc469989d86311d73d76c574b078777a6e	6fef5ecd27ad7d6890cf3b65e137ad3f30c42978c948d4d0bb99d51a53c67bde
38	2026-12-01T22:37:59.200307+00:00	rita	request.submit	study	r-2af845b48b	{"exception_requested":false,"institutions":["CC-101","UNI-201"],"notebook":"study_4.ipynb","round":1,"sha256":"5d83ed6bc081a3a9b4903a45865786c6f4d5d790ebc9015d5818be67e1c1167c","size":423}	6fef5ecd27ad7d6890cf3b65e137ad3f30c42978c948d4d0bb99d51a53c67bde	6297907683585fd92cca1fd31c0c8d59471fab1ce3898922e5bc4399a4892190
39	2026-12-01T22:37:59.202876+00:00	rita	gate.result	study	r-2af845b48b	{"blocked":0,"findings":0,"sha256":"5d83ed6bc081a3a9b4903a45865786c6f4d5d790ebc9015d5818be67e1c1167c","verdict":"pass"}	6297907683585fd92cca1fd31c0c8d59471fab1ce3898922e5bc4399a4892190	6ddd7641caea0968bc13f556874b871cb2f9867cc13f987bd740d46e64213a21
40	2026-12-01T22:37:59.212081+00:00	rita	request.comment	study	r-2af845b48b	{"comment":7,"visibility":"all"}	6ddd7641caea0968bc13f556874b871cb2f9867cc13f987bd740d46e64213a21	a52669fbf2fa0516be2a2053af990d10f6d7976222934ced6f73a22fb16444ad
41	2026-12-01T22:37:59.223813+00:00	rita	request.withdraw	study	r-2af845b48b	{"round":1,"status":"withdrawn"}	a52669fbf2fa0516be2a2053af990d10f6d7976222934ced6f73a22fb16444ad	9cd7be4462ebd1d0ec1f17d3b2fd276789982157c83909f17e8bea85f86d67df
42	2026-12-01T22:37:59.246983+00:00	rita	request.submit	study	r-fc5c90200f	{"exception_requested":false,"institutions":["CC-101","UNI-201"],"notebook":"study_5.ipynb","round":1,"sha256":"e03a41f91db3cdf322e15ddba8574315c8ccdc3757005011c1f0e7192127ecb8","size":423}	9cd7be4462ebd1d0ec1f17d3b2fd276789982157c83909f17e8bea85f86d67df	86dedfddc87e003f3fafc695a6cf990cab9cfb63e86b9db08b44e0f070de1c5d
43	2026-12-01T22:37:59.248152+00:00	rita	gate.result	study	r-fc5c90200f	{"blocked":0,"findings":0,"sha256":"e03a41f91db3cdf322e15ddba8574315c8ccdc3757005011c1f0e7192127ecb8","verdict":"pass"}	86dedfddc87e003f3fafc695a6cf990cab9cfb63e86b9db08b44e0f070de1c5d	91ae6d54606a2a4929cf14a174c7a20517a2096f825ee06986c69209a689cf13
\.


--
-- Data for Name: pg_log_offsets; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.pg_log_offsets (path, inode, "offset") FROM stdin;
/tmp/tmpm4nq3qhq/pg/postgresql.log	2179156	115
\.


--
-- Data for Name: pg_sessions; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.pg_sessions (role, "user", project) FROM stdin;
wh_sess_rita	rita	study
\.


--
-- Data for Name: project_approvals; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.project_approvals (project, institution, approved_by, approved_at) FROM stdin;
study	CC-101	ada	2026-12-01T22:37:58+00:00
study	UNI-201	ada	2026-12-01T22:37:58+00:00
finished	CC-101	ada	2026-12-01T22:37:58+00:00
finished	UNI-201	ada	2026-12-01T22:37:58+00:00
\.


--
-- Data for Name: project_members; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.project_members (project, "user", added_at) FROM stdin;
study	rita	2026-12-01T22:37:58+00:00
study	bob	2026-12-01T22:37:58+00:00
finished	rita	2026-12-01T22:37:58+00:00
finished	bob	2026-12-01T22:37:58+00:00
\.


--
-- Data for Name: projects; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.projects (name, purpose, expires, expired_at, created_by, created_at, warehouse_access) FROM stdin;
study	study purpose	2099-12-31	\N	ada	2026-12-01T22:37:58+00:00	/extracts/study
finished	finished purpose	2099-12-31	2026-12-01T22:37:58+00:00	ada	2026-12-01T22:37:58+00:00	/extracts/finished
\.


--
-- Data for Name: review_comments; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.review_comments (id, request_id, author, body, visibility, "time") FROM stdin;
1	r-549652617d	rev1	looked at it (rev1)	reviewers	2026-12-01T22:37:58+00:00
2	r-549652617d	rev2	looked at it (rev2)	reviewers	2026-12-01T22:37:58+00:00
3	r-549652617d	stew-cc-101	looked at it (stew-cc-101)	reviewers	2026-12-01T22:37:58+00:00
4	r-549652617d	stew-uni-201	looked at it (stew-uni-201)	reviewers	2026-12-01T22:37:58+00:00
5	r-06fcfee425	rev2	Round the counts.	all	2026-12-01T22:37:59+00:00
6	r-06fcfee425	rev2	Still too fine-grained.	all	2026-12-01T22:37:59+00:00
7	r-2af845b48b	rita	Withdrawing: wrong notebook.	all	2026-12-01T22:37:59+00:00
\.


--
-- Data for Name: review_decisions; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.review_decisions (id, request_id, round, "user", decision, as_reviewer, institutions, sha256, "time") FROM stdin;
1	r-549652617d	1	rev1	approve	t	[]	f7c1dc88b76df022d19945ca4c720e33f7cda9f6236a956711b40748c83ecdfc	2026-12-01T22:37:58+00:00
2	r-549652617d	1	rev2	approve	t	[]	f7c1dc88b76df022d19945ca4c720e33f7cda9f6236a956711b40748c83ecdfc	2026-12-01T22:37:58+00:00
3	r-549652617d	1	stew-cc-101	approve	f	["CC-101"]	f7c1dc88b76df022d19945ca4c720e33f7cda9f6236a956711b40748c83ecdfc	2026-12-01T22:37:58+00:00
4	r-549652617d	1	stew-uni-201	approve	f	["UNI-201"]	f7c1dc88b76df022d19945ca4c720e33f7cda9f6236a956711b40748c83ecdfc	2026-12-01T22:37:58+00:00
5	r-06fcfee425	1	rev1	approve	t	[]	96a007f141e58f798c3c2c1fc879b6e4bb06101504b11297144db1dda7e3448d	2026-12-01T22:37:59+00:00
6	r-06fcfee425	1	rev2	request_changes	t	[]	96a007f141e58f798c3c2c1fc879b6e4bb06101504b11297144db1dda7e3448d	2026-12-01T22:37:59+00:00
7	r-06fcfee425	2	rev2	reject	t	[]	61b12bf21d8f9c74471fa4056d97652cebfc642e12fc3600e8f8b704dcc3242c	2026-12-01T22:37:59+00:00
\.


--
-- Data for Name: review_releases; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.review_releases (request_id, sha256, size, approvers, built) FROM stdin;
r-549652617d	bf9ce826b4970024b0a4b7acc64e20a98f4839c25eb27a515de58526a3ca33b2	61322	["rev1", "rev2", "stew-cc-101", "stew-uni-201"]	2026-12-01T22:37:59+00:00
\.


--
-- Data for Name: review_requests; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.review_requests (id, project, author, notebook, sha256, size, purpose, summary, exception_note, status, round, gate_verdict, gate_report, institutions, institutions_source, created, updated) FROM stdin;
r-06fcfee425	study	rita	study_3.ipynb	61b12bf21d8f9c74471fa4056d97652cebfc642e12fc3600e8f8b704dcc3242c	423	Completion rates by term for the board report.			rejected	2	pass	{"notebook": "", "verdict": "pass", "findings": []}	["CC-101", "UNI-201"]	{"CC-101": ["approved for the project; no recorded query of this notebook", "approved for the project; 1 statement(s) in the PostgreSQL log that no recorded kernel query accounts for", "approved for the project; the PostgreSQL statement log could not be read at submission"], "UNI-201": ["approved for the project; no recorded query of this notebook", "approved for the project; 1 statement(s) in the PostgreSQL log that no recorded kernel query accounts for", "approved for the project; the PostgreSQL statement log could not be read at submission"]}	2026-12-01T22:37:59+00:00	2026-12-01T22:37:59+00:00
r-549652617d	study	rita	study_1.ipynb	f7c1dc88b76df022d19945ca4c720e33f7cda9f6236a956711b40748c83ecdfc	423	Completion rates by term for the board report.	Two counts per term.		released	1	pass	{"notebook": "", "verdict": "pass", "findings": []}	["CC-101", "UNI-201"]	{"CC-101": ["read by a recorded query of this notebook", "approved for the project; 1 statement(s) in the PostgreSQL log that no recorded kernel query accounts for", "approved for the project; the PostgreSQL statement log could not be read at submission"], "UNI-201": ["approved for the project; 1 statement(s) in the PostgreSQL log that no recorded kernel query accounts for", "approved for the project; the PostgreSQL statement log could not be read at submission"]}	2026-12-01T22:37:58+00:00	2026-12-01T22:37:59+00:00
r-2af845b48b	study	rita	study_4.ipynb	5d83ed6bc081a3a9b4903a45865786c6f4d5d790ebc9015d5818be67e1c1167c	423	Completion rates by term for the board report.			withdrawn	1	pass	{"notebook": "", "verdict": "pass", "findings": []}	["CC-101", "UNI-201"]	{"CC-101": ["approved for the project; no recorded query of this notebook", "approved for the project; 1 statement(s) in the PostgreSQL log that no recorded kernel query accounts for", "approved for the project; the PostgreSQL statement log could not be read at submission"], "UNI-201": ["approved for the project; no recorded query of this notebook", "approved for the project; 1 statement(s) in the PostgreSQL log that no recorded kernel query accounts for", "approved for the project; the PostgreSQL statement log could not be read at submission"]}	2026-12-01T22:37:59+00:00	2026-12-01T22:37:59+00:00
r-fc5c90200f	study	rita	study_5.ipynb	e03a41f91db3cdf322e15ddba8574315c8ccdc3757005011c1f0e7192127ecb8	423	Completion rates by term for the board report.			submitted	1	pass	{"notebook": "", "verdict": "pass", "findings": []}	["CC-101", "UNI-201"]	{"CC-101": ["approved for the project; no recorded query of this notebook", "approved for the project; 1 statement(s) in the PostgreSQL log that no recorded kernel query accounts for", "approved for the project; the PostgreSQL statement log could not be read at submission"], "UNI-201": ["approved for the project; no recorded query of this notebook", "approved for the project; 1 statement(s) in the PostgreSQL log that no recorded kernel query accounts for", "approved for the project; the PostgreSQL statement log could not be read at submission"]}	2026-12-01T22:37:59+00:00	2026-12-01T22:37:59+00:00
\.


--
-- Name: review_comments_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.review_comments_id_seq', 7, true);


--
-- Name: review_decisions_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.review_decisions_id_seq', 7, true);


--
-- Name: agreement_acceptances agreement_acceptances_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.agreement_acceptances
    ADD CONSTRAINT agreement_acceptances_pkey PRIMARY KEY ("user", version);


--
-- Name: audit_events audit_events_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.audit_events
    ADD CONSTRAINT audit_events_pkey PRIMARY KEY (seq);


--
-- Name: pg_log_offsets pg_log_offsets_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.pg_log_offsets
    ADD CONSTRAINT pg_log_offsets_pkey PRIMARY KEY (path);


--
-- Name: pg_sessions pg_sessions_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.pg_sessions
    ADD CONSTRAINT pg_sessions_pkey PRIMARY KEY (role);


--
-- Name: project_approvals project_approvals_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.project_approvals
    ADD CONSTRAINT project_approvals_pkey PRIMARY KEY (project, institution);


--
-- Name: project_members project_members_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.project_members
    ADD CONSTRAINT project_members_pkey PRIMARY KEY (project, "user");


--
-- Name: projects projects_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.projects
    ADD CONSTRAINT projects_pkey PRIMARY KEY (name);


--
-- Name: review_comments review_comments_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.review_comments
    ADD CONSTRAINT review_comments_pkey PRIMARY KEY (id);


--
-- Name: review_decisions review_decisions_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.review_decisions
    ADD CONSTRAINT review_decisions_pkey PRIMARY KEY (id);


--
-- Name: review_releases review_releases_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.review_releases
    ADD CONSTRAINT review_releases_pkey PRIMARY KEY (request_id);


--
-- Name: review_requests review_requests_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.review_requests
    ADD CONSTRAINT review_requests_pkey PRIMARY KEY (id);


--
-- Name: review_decisions uq_one_decision_per_round; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.review_decisions
    ADD CONSTRAINT uq_one_decision_per_round UNIQUE (request_id, round, "user");


--
-- Name: ix_audit_actor; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_audit_actor ON public.audit_events USING btree (actor);


--
-- Name: ix_audit_project; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_audit_project ON public.audit_events USING btree (project);


--
-- Name: ix_audit_request; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_audit_request ON public.audit_events USING btree (request);


--
-- Name: ix_review_requests_author; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_review_requests_author ON public.review_requests USING btree (author);


--
-- Name: ix_review_requests_status; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_review_requests_status ON public.review_requests USING btree (status);


--
-- Name: project_approvals project_approvals_project_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.project_approvals
    ADD CONSTRAINT project_approvals_project_fkey FOREIGN KEY (project) REFERENCES public.projects(name);


--
-- Name: project_members project_members_project_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.project_members
    ADD CONSTRAINT project_members_project_fkey FOREIGN KEY (project) REFERENCES public.projects(name);


--
-- Name: review_comments review_comments_request_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.review_comments
    ADD CONSTRAINT review_comments_request_id_fkey FOREIGN KEY (request_id) REFERENCES public.review_requests(id);


--
-- Name: review_decisions review_decisions_request_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.review_decisions
    ADD CONSTRAINT review_decisions_request_id_fkey FOREIGN KEY (request_id) REFERENCES public.review_requests(id);


--
-- Name: review_releases review_releases_request_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.review_releases
    ADD CONSTRAINT review_releases_request_id_fkey FOREIGN KEY (request_id) REFERENCES public.review_requests(id);


--
-- PostgreSQL database dump complete
--

\unrestrict dt4iJAx9TO1yKDT7xeiUZQEjvxdrxZkiMyVUXoO8tgiKG3JtJswokyrFwZ22I4g

